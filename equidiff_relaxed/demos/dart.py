"""DART-style data collection (Laskey et al., CoRL 2017): execute perturbed actions, record the expert's clean ones.

A scripted expert that is never pushed off its nominal path shows only clean first attempts; a cloned policy that
drifts has never seen what to do next. During generation the environment executes ``clean + perturbation`` while
the dataset stores, for the observation actually seen, the expert's clean action as the label. Perturbations:

- Gaussian noise on every executed action (``noise_std`` metres, isotropic, so rotation-invariant in law);
- bursts: with probability ``burst_prob`` per step a burst of ``burst_steps`` steps starts, during which a constant
  offset of length ``burst_scale`` in a uniformly random direction is added (a short push off the path).

The perturbed env states make the expert recover (reposition, re-align); those recovery steps are what the policy
learns from. Applies to actions that are planar targets (the push tasks).
"""
from __future__ import annotations

import math

import numpy as np

from equidiff_relaxed.envs.perturb import PerturbConfig


class Perturber:
    """Stateful per episode (the burst in progress); ``__call__(action (A,))`` -> the action to execute (A,)."""

    def __init__(self, cfg: PerturbConfig, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng
        self._left = 0
        self._offset = np.zeros(2)

    def __call__(self, action: np.ndarray) -> np.ndarray:
        c = self.cfg
        out = np.asarray(action, dtype=np.float64).copy()
        if c.noise_std > 0:
            out[:2] += self.rng.normal(scale=c.noise_std, size=2)
        if self._left == 0 and c.burst_prob > 0 and self.rng.random() < c.burst_prob:
            ang = self.rng.uniform(0.0, 2 * math.pi)
            self._left, self._offset = c.burst_steps, c.burst_scale * np.array([math.cos(ang), math.sin(ang)])
        if self._left > 0:
            out[:2] += self._offset
            self._left -= 1
        return out.astype(np.float32)


__all__ = ["PerturbConfig", "Perturber"]
