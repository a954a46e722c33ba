"""Orientation regions: K equal sectors ``[offset + k 2pi/K, offset + (k+1) 2pi/K)`` of the task orientation."""
from __future__ import annotations

import math

import numpy as np

from equidiff_relaxed.symmetry.rotations import wrap_to_2pi


def _check_k(n_regions: int) -> None:
    if not isinstance(n_regions, (int, np.integer)) or n_regions < 1:
        raise ValueError(f"number of regions must be an integer >= 1, got {n_regions!r}")


def region_of(theta: float | np.ndarray, n_regions: int, offset: float = 0.0) -> int | np.ndarray:
    """Index in [0, K) of the sector that contains ``theta`` (radians)."""
    _check_k(n_regions)
    width = 2 * math.pi / n_regions
    idx = np.floor(np.asarray(wrap_to_2pi(np.asarray(theta) - offset)) / width).astype(np.int64)
    idx = np.clip(idx, 0, n_regions - 1)
    return int(idx) if idx.ndim == 0 else idx


def region_bounds(k: int, n_regions: int, offset: float = 0.0) -> tuple[float, float]:
    """(start, end) of sector ``k`` in radians; start is wrapped to [0, 2pi), end = start + 2pi/K."""
    _check_k(n_regions)
    if not 0 <= k < n_regions:
        raise ValueError(f"region index {k} outside [0, {n_regions})")
    width = 2 * math.pi / n_regions
    start = float(wrap_to_2pi(offset + k * width))
    return start, start + width
