"""Data symmetry-breaking map: where do the demonstrations themselves break the rotational symmetry?

Each episode's actions are rotated back to the canonical frame (by -theta about the symmetry centre, using the
action's declared representation) and resampled to ``n_points`` over normalised time. For each orientation region k:

- ``deviation``: RMS distance between region k's mean canonical path and the reference path of the other regions
  (the point-wise median of their mean paths, so that a few broken regions do not shift it) — how far this
  region's demos are from what a rotated demo from elsewhere would do;
- ``spread``: mean RMS distance of region k's episodes to their own mean path (demo-to-demo variation);
- ``ratio`` = deviation / median spread over regions. About 1 or below: consistent with symmetric data; well above
  1: the data break the symmetry there.

Distances are in the action's units (metres for planar positions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.symmetry.actions import rotate_field
from equidiff_relaxed.symmetry.regions import region_bounds, region_of


@dataclass
class RegionBreaking:
    region: int
    theta_range: tuple[float, float]
    episodes: int
    deviation: float
    spread: float
    ratio: float


def canonical_paths(buf: ReplayBuffer, n_points: int = 32, key: str = "action",
                    episodes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(E, n_points, D) actions of every episode (or of ``episodes``, indices) rotated to theta = 0 and resampled;
    and (E,) theta. UserError naming the file when it records no ``episode_theta``."""
    meta = buf.shape_meta
    if meta is None:
        raise UserError("no shape_meta: the action representation is needed to rotate demos", buf.path)
    if "episode_theta" not in buf.meta:
        raise UserError("the dataset records no meta/episode_theta (each demo's orientation), which the data's "
                        "symmetry-breaking map needs", buf.path)
    theta = buf.episode_meta("theta").astype(np.float64)
    center = (buf.attrs.get("symmetry") or {}).get("center") or (0.0, 0.0)
    actions = buf.load_arrays([key])[key].astype(np.float64)
    ends = buf.episode_ends
    starts = np.concatenate([[0], ends[:-1]])
    chosen = np.arange(len(ends)) if episodes is None else np.asarray(episodes, dtype=np.int64)
    theta, starts, ends = theta[chosen], starts[chosen], ends[chosen]
    paths = np.empty((len(ends), n_points, actions.shape[1]))
    grid = np.linspace(0.0, 1.0, n_points)
    for i, (s, e) in enumerate(zip(starts, ends)):
        canon = rotate_field(actions[s:e], meta.action.fields, -theta[i], center)
        t = np.linspace(0.0, 1.0, e - s) if e - s > 1 else np.zeros(1)
        paths[i] = np.stack([np.interp(grid, t, canon[:, d]) for d in range(canon.shape[1])], axis=1)
    return paths, theta


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1))))


def symmetry_breaking_map(buf: ReplayBuffer, n_regions: int = 8, offset: float = 0.0, n_points: int = 32,
                          dims: slice | None = None, episodes: np.ndarray | None = None) -> list[RegionBreaking]:
    """Per-region deviation of the canonicalised demonstrations (see the module docstring). ``dims``: only these
    action entries (e.g. one sub-field of a composite action), after canonicalising the whole action; ``episodes``:
    only these episodes (e.g. a training split)."""
    paths, theta = canonical_paths(buf, n_points, episodes=episodes)
    if dims is not None:
        paths = paths[..., dims]
    regions = region_of(theta, n_regions, offset)
    means = {k: paths[regions == k].mean(axis=0) for k in range(n_regions) if np.any(regions == k)}
    rows = []
    spreads = []
    for k in range(n_regions):
        others = [m for j, m in means.items() if j != k]
        if k not in means or not others:
            rows.append(RegionBreaking(k, region_bounds(k, n_regions, offset), int(np.sum(regions == k)),
                                       math.nan, math.nan, math.nan))
            continue
        reference = np.median(np.stack(others), axis=0)
        spread = float(np.mean([_rms(p, means[k]) for p in paths[regions == k]]))
        spreads.append(spread)
        rows.append(RegionBreaking(k, region_bounds(k, n_regions, offset), int(np.sum(regions == k)),
                                   _rms(means[k], reference), spread, math.nan))
    scale = float(np.median(spreads)) if spreads else math.nan
    for r in rows:
        r.ratio = r.deviation / scale if scale > 0 else math.nan
    return rows


def action_subfields(buf: ReplayBuffer) -> list[tuple[str, slice]]:
    """(label, entries) of each non-scalar sub-field of the action, e.g. [("pos3", slice(0, 3)), ...]; empty when
    the action is a single field."""
    meta = buf.shape_meta
    if meta is None or len(meta.action.fields) < 2:
        return []
    return [(f"{f.rep} [{f.start}:{f.stop}]", slice(f.start, f.stop)) for f in meta.action.fields if f.rep != "scalar"]


def format_map(rows: list[RegionBreaking], units: str = "m") -> str:
    """A text table with a bar per region."""
    lines = [f"{'region':>6} {'theta (deg)':>13} {'episodes':>8} {'deviation':>10} {'spread':>8} {'ratio':>6}",
             "-" * 70]
    for r in rows:
        lo, hi = (math.degrees(v) for v in r.theta_range)
        bar = "#" * int(min(30, round(r.ratio * 3))) if math.isfinite(r.ratio) else ""
        lines.append(f"{r.region:>6} {lo:>6.1f}-{hi:<6.1f} {r.episodes:>8} {r.deviation:>8.4f}{units:>2} "
                     f"{r.spread:>6.4f}{units:>2} {r.ratio:>6.2f} {bar}")
    return "\n".join(lines)
