"""Paired episode plans: the initial state of every episode is a function of (seed, region, episode) only, so
several checkpoints are compared on identical episodes, whatever the number of parallel envs."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from equidiff_relaxed.symmetry.regions import region_bounds


@dataclass(frozen=True)
class EpisodeSpec:
    region: int
    index: int
    theta: float       # drawn uniformly inside the region's sector
    reset_seed: int    # the env's reset seed (layout jitter)
    noise_seed: int    # seeds the policy's diffusion noise for this episode


def episode_plan(n_regions: int, episodes_per_region: int, seed: int = 0, offset: float = 0.0) -> list[EpisodeSpec]:
    """``n_regions * episodes_per_region`` episodes, region-major."""
    plan = []
    for k in range(n_regions):
        lo, hi = region_bounds(k, n_regions, offset)
        for e in range(episodes_per_region):
            rng = np.random.default_rng(np.random.SeedSequence([seed, k, e]))
            theta = float(rng.uniform(lo, hi) % (2 * math.pi))
            plan.append(EpisodeSpec(k, e, theta, int(rng.integers(0, 2**31 - 1)), int(rng.integers(0, 2**31 - 1))))
    return plan
