"""Episode-level train/validation split and the ``n_demos`` cap (the sample-efficiency knob).

Which episodes are kept: one seeded random permutation of all episodes is drawn. The first ``n_val`` episodes of it
form the validation set (``n_val = round(val_ratio * E)``, at least 1 and at most E-1 when ``val_ratio > 0``); the
rest, in permutation order, are the training candidates, and ``n_demos`` keeps the first ``n_demos`` of those.
So for a fixed seed the validation set does not depend on ``n_demos`` and the training sets are nested
(10 demos are a subset of 25, which are a subset of 50), and the choice does not follow the dataset's storage order
(which may be sorted by orientation region).
"""
from __future__ import annotations

import numpy as np

from equidiff_relaxed.errors import UserError


def split_episodes(
    n_episodes: int,
    val_ratio: float = 0.1,
    seed: int = 0,
    n_demos: int | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, val) sorted int64 episode indices; see the module docstring for the rule."""
    if not 0.0 <= val_ratio < 1.0:
        raise UserError(f"val_ratio must be in [0, 1), got {val_ratio}", source)
    if n_episodes < 1:
        raise UserError("the dataset has no episodes", source)
    perm = np.random.default_rng(seed).permutation(n_episodes)
    n_val = 0
    if val_ratio > 0:
        if n_episodes < 2:
            raise UserError("a validation split needs at least 2 episodes; set val_ratio: 0", source)
        n_val = int(min(max(1, round(val_ratio * n_episodes)), n_episodes - 1))
    val, train = perm[:n_val], perm[n_val:]
    if n_demos is not None:
        if n_demos < 1:
            raise UserError(f"n_demos must be >= 1, got {n_demos}", source)
        if n_demos > len(train):
            raise UserError(
                f"n_demos={n_demos} but only {len(train)} training episodes are available "
                f"({n_episodes} episodes, {n_val} for validation)", source
            )
        train = train[:n_demos]
    return np.sort(train).astype(np.int64), np.sort(val).astype(np.int64)
