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
from dataclasses import dataclass

import numpy as np

from equidiff_relaxed.errors import UserError


@dataclass(frozen=True)
class PerturbConfig:
    """Perturbation of executed actions (metres); all zero = execute the expert's action as is."""

    noise_std: float = 0.0
    burst_prob: float = 0.0
    burst_steps: int = 3
    burst_scale: float = 0.03

    def validate(self) -> None:
        """Raise :class:`UserError` naming the generate.py option of a bad value."""
        for flag, v in (("--dart-noise", self.noise_std), ("--burst-scale", self.burst_scale)):
            if not math.isfinite(v) or v < 0:
                raise UserError(f"{flag} must be a finite number >= 0, got {v}")
        if not 0.0 <= self.burst_prob <= 1.0:
            raise UserError(f"--burst-prob must be in [0, 1], got {self.burst_prob}")
        if self.burst_steps < 1:
            raise UserError(f"--burst-steps must be >= 1, got {self.burst_steps}")

    @property
    def active(self) -> bool:
        return self.noise_std > 0 or (self.burst_prob > 0 and self.burst_scale > 0)


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
