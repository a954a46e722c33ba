"""A readable summary of a replay buffer: episodes, steps, per-key statistics and representations, env/symmetry."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from equidiff_relaxed.data.replay_buffer import ReplayBuffer

STAT_CHUNK = 1 << 16  # steps read at a time, so big image arrays are summarised without loading them whole


def _stats(arr: Any) -> tuple[float, float, float, int]:
    """(min, max, mean, count of non-finite values) over a (T, ...) array, read in chunks along time."""
    lo, hi, total, count, bad = np.inf, -np.inf, 0.0, 0, 0
    for s in range(0, arr.shape[0], STAT_CHUNK):
        x = np.asarray(arr[s : s + STAT_CHUNK])
        if x.dtype.kind not in "biuf":
            return float("nan"), float("nan"), float("nan"), 0
        x = x.astype(np.float64)
        finite = np.isfinite(x)
        bad += int((~finite).sum())
        if finite.any():
            lo, hi = min(lo, x[finite].min()), max(hi, x[finite].max())
            total += x[finite].sum()
            count += int(finite.sum())
    return lo, hi, (total / count if count else float("nan")), bad


def describe(buf: ReplayBuffer) -> str:
    """Multi-line summary of ``buf`` (reads every array once, in chunks)."""
    lines = [f"{buf.path or 'replay buffer'}"]
    lens = buf.episode_lengths
    lines.append(
        f"episodes: {buf.n_episodes}   steps: {buf.n_steps}"
        + (f"   episode length min/mean/max: {lens.min()}/{lens.mean():.1f}/{lens.max()}" if len(lens) else "")
    )
    meta = buf.shape_meta
    reps: dict[str, str] = {}
    if meta is not None:
        reps = {k: v.rep for k, v in meta.obs.items()}
        reps["action"] = meta.action.rep
    lines.append("")
    header = f"{'key':<24} {'shape':<18} {'dtype':<8} {'min':>10} {'max':>10} {'mean':>10}  rep"
    lines += [header, "-" * len(header)]
    for key in buf.keys:
        arr = buf.data[key]
        with buf.reading(f"data/{key}"):
            lo, hi, mean, bad = _stats(arr)
        rep = reps.get(key, "-" if meta is not None else "(no shape_meta)")
        flag = f"  !! {bad} NaN/inf" if bad else ""
        lines.append(
            f"{key:<24} {str(tuple(arr.shape)):<18} {str(arr.dtype):<8} {lo:>10.4g} {hi:>10.4g} {mean:>10.4g}  {rep}{flag}"
        )
    fields = [k for k in buf.meta.array_keys() if k != "episode_ends"]
    if fields:
        lines.append("")
        lines.append("per-episode meta: " + ", ".join(f"{k} {buf.meta[k].dtype}" for k in fields))
    attrs = buf.attrs
    lines.append("")
    for key in ("env", "symmetry", "source"):
        value = attrs.get(key)
        lines.append(f"{key}: {json.dumps(value) if value is not None else '(not recorded)'}")
    if meta is None:
        lines.append("shape_meta: (not recorded: a plain diffusion_policy-style zarr; give shape_meta in the config)")
    return "\n".join(lines)
