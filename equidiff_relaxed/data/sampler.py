"""Sequence sampler: fixed-length training windows over episodes, with edge-repeat padding.

With horizon T, n_obs_steps To and n_action_steps Ta (diffusion_policy's convention)::

    |o|o|              observations: the first To steps of the window (obs history ending at "now" = To-1)
    | |a|a|a|a|        actions executed: Ta steps starting at To-1
    |p|p|p|p|p|p|p|p|  the denoiser predicts all T actions of the window

Windows start from To-1 steps before an episode's first step (pad_before = To-1); positions outside the episode
repeat its first or last step (padded actions repeat the last one: for absolute targets, "hold"). How far windows
run past the last step is ``pad_after`` (:data:`PAD_AFTER`):

- ``"full"`` (default): pad_after = T - To, so *every* state of an episode is the current observation ("now",
  window step To-1) of some window, including the final approach of short episodes;
- ``"diffusion_policy"``: pad_after = Ta - 1 (diffusion_policy's convention): the last T - To - Ta + 1 states of each
  episode are never "now".

Only the first To frames of observation keys are read, so long image windows are not decoded needlessly.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from equidiff_relaxed.errors import UserError

PAD_AFTER = ("full", "diffusion_policy")


def pad_after_steps(mode: str, horizon: int, n_obs_steps: int, n_action_steps: int) -> int:
    """Steps past an episode's end that windows may cover, for ``mode`` in :data:`PAD_AFTER`."""
    if mode == "full":
        return horizon - n_obs_steps
    if mode == "diffusion_policy":
        return n_action_steps - 1
    raise UserError(f"unknown pad_after {mode!r} (known: {', '.join(PAD_AFTER)})")


def create_windows(
    episode_ends: np.ndarray,
    horizon: int,
    pad_before: int,
    pad_after: int,
    episodes: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """(N, 3) int64 rows ``[episode_start, episode_end, window_start]`` for every window of the chosen episodes.

    ``window_start`` is in buffer steps and may lie before ``episode_start`` (padding). An episode of length L yields
    ``max(0, L + pad_before + pad_after - horizon + 1)`` windows.
    """
    ends = np.asarray(episode_ends, dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    chosen = np.arange(len(ends)) if episodes is None else np.asarray(episodes, dtype=np.int64)
    rows = []
    for i in chosen:
        s, e = int(starts[i]), int(ends[i])
        first, last = s - pad_before, e - horizon + pad_after  # inclusive range of window starts
        if last < first:
            continue
        w = np.arange(first, last + 1, dtype=np.int64)
        rows.append(np.stack([np.full_like(w, s), np.full_like(w, e), w], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)


class SequenceSampler:
    """Reads windows from time-major arrays (numpy or zarr).

    ``arrays`` maps key -> (T_total, ...) array; ``obs_keys`` are read for the first ``n_obs_steps`` steps of a window,
    ``action_key`` for the whole horizon; ``pad_after`` is one of :data:`PAD_AFTER`. ``sample(i)`` returns key -> (To, ...) for observations and (T, ...) for the
    action, as numpy arrays of the stored dtype.
    """

    def __init__(
        self,
        arrays: Mapping[str, Any],
        episode_ends: np.ndarray,
        horizon: int,
        n_obs_steps: int,
        n_action_steps: int,
        obs_keys: Sequence[str],
        action_key: str = "action",
        episodes: Sequence[int] | np.ndarray | None = None,
        source: str | None = None,
        pad_after: str = "full",
    ):
        if not 1 <= n_obs_steps <= horizon:
            raise UserError(f"n_obs_steps must be in [1, horizon={horizon}], got {n_obs_steps}", source)
        if not 1 <= n_action_steps or n_obs_steps - 1 + n_action_steps > horizon:
            raise UserError(
                f"n_obs_steps - 1 + n_action_steps must fit in the horizon: {n_obs_steps} - 1 + {n_action_steps} > "
                f"{horizon}", source
            )
        missing = [k for k in [*obs_keys, action_key] if k not in arrays]
        if missing:
            raise UserError(f"no key {missing[0]!r} in data (keys: {', '.join(sorted(arrays))})", source)
        self.arrays = arrays
        self.horizon = horizon
        self.n_obs_steps = n_obs_steps
        self.n_action_steps = n_action_steps
        self.pad_before = n_obs_steps - 1
        self.pad_after = pad_after_steps(pad_after, horizon, n_obs_steps, n_action_steps)
        self.obs_keys = list(obs_keys)
        self.action_key = action_key
        self.windows = create_windows(episode_ends, horizon, self.pad_before, self.pad_after, episodes)

    def __len__(self) -> int:
        return len(self.windows)

    def _read(self, key: str, ep_start: int, ep_end: int, start: int, length: int) -> np.ndarray:
        lo, hi = max(start, ep_start), min(start + length, ep_end)
        block = np.asarray(self.arrays[key][lo:hi])  # one contiguous read (one zarr call when lazy)
        idx = np.clip(np.arange(start, start + length), lo, hi - 1) - lo
        return block if (lo == start and hi == start + length) else block[idx]

    def sample(self, i: int) -> dict[str, np.ndarray]:
        ep_start, ep_end, start = (int(v) for v in self.windows[i])
        out = {k: self._read(k, ep_start, ep_end, start, self.n_obs_steps) for k in self.obs_keys}
        out[self.action_key] = self._read(self.action_key, ep_start, ep_end, start, self.horizon)
        return out
