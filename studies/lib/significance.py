"""Statistics that respect seeds: bootstrap intervals over seeds and episodes, and paired family comparisons.

Success outcomes of a sweep cell are a (seeds, episodes) 0/1 array: row s holds the episodes of the run with seed s,
in plan order. Runs of different families with the same seed are evaluated on the same episodes (the same plan), so
two cells' arrays are paired element by element.

- :func:`bootstrap_interval`: the cell's mean success with a percentile interval from a two-level bootstrap
  (resample seeds, then episodes within each drawn seed), so the interval widens when seeds disagree.
- :func:`paired_bootstrap`: the difference of two paired cells, its interval and a two-sided p-value from the same
  two-level bootstrap applied to the paired differences.
- :func:`mcnemar`: McNemar's exact test on the paired outcomes (pooled over seeds; ignores seed variance).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

DEFAULT_BOOTSTRAP = 4000


@dataclass(frozen=True)
class Interval:
    """Point estimate and 95 % (or ``level``) interval."""
    value: float
    lo: float
    hi: float


@dataclass(frozen=True)
class PairedComparison:
    """a − b on paired episodes: mean difference with its bootstrap interval and p-values (bootstrap, McNemar),
    and the discordant pair counts (a succeeded where b failed, and the reverse)."""
    diff: Interval
    p_bootstrap: float
    p_mcnemar: float
    a_only: int
    b_only: int


def _as_outcomes(x: np.ndarray | list) -> np.ndarray:
    """(seeds, episodes) float array of 0/1 outcomes; ValueError for another shape or an empty array."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"outcomes must be a non-empty (seeds, episodes) array, got shape {arr.shape}")
    return arr


def _two_level_means(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot,) means of x resampled twice: seeds (rows) with replacement, then episodes within each drawn row."""
    seeds, episodes = x.shape
    rows = rng.integers(0, seeds, size=(n_boot, seeds))
    cols = rng.integers(0, episodes, size=(n_boot, seeds, episodes))
    return x[rows[:, :, None], cols].mean(axis=(1, 2))


def bootstrap_interval(outcomes: np.ndarray | list, level: float = 0.95, n_boot: int = DEFAULT_BOOTSTRAP,
                       seed: int = 0) -> Interval:
    """Mean success of a (seeds, episodes) 0/1 array with a two-level percentile bootstrap interval."""
    x = _as_outcomes(outcomes)
    means = _two_level_means(x, n_boot, np.random.default_rng(seed))
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(x.mean()), float(lo), float(hi))


def mcnemar(a: np.ndarray | list, b: np.ndarray | list) -> tuple[float, int, int]:
    """(two-sided exact p-value, a_only, b_only) of McNemar's test on paired 0/1 outcomes (any equal shapes)."""
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if x.shape != y.shape:
        raise ValueError(f"paired outcomes differ in shape: {x.shape} vs {y.shape}")
    a_only, b_only = int((x & ~y).sum()), int((~x & y).sum())
    if a_only + b_only == 0:
        return 1.0, 0, 0
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue), a_only, b_only


def paired_bootstrap(a: np.ndarray | list, b: np.ndarray | list, level: float = 0.95,
                     n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> PairedComparison:
    """Compare two cells evaluated on the same episodes (row s of both: seed s; column: the same plan episode).

    The p-value of the bootstrap is two-sided: twice the share of resampled mean differences on the far side of 0
    (0 included), capped at 1."""
    x, y = _as_outcomes(a), _as_outcomes(b)
    if x.shape != y.shape:
        raise ValueError(f"paired outcomes differ in shape: {x.shape} vs {y.shape}")
    d = x - y
    diffs = _two_level_means(d, n_boot, np.random.default_rng(seed))
    lo, hi = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    mean = float(d.mean())
    if mean == 0.0 and not d.any():
        p_boot = 1.0
    else:
        far = (diffs <= 0).mean() if mean > 0 else (diffs >= 0).mean()
        p_boot = float(min(1.0, 2 * far))
    p_mc, a_only, b_only = mcnemar(x, y)
    return PairedComparison(Interval(mean, float(lo), float(hi)), p_boot, p_mc, a_only, b_only)


__all__ = ["DEFAULT_BOOTSTRAP", "Interval", "PairedComparison", "bootstrap_interval", "mcnemar", "paired_bootstrap"]
