"""How demo generation perturbs the actions it executes (DART; see :mod:`equidiff_relaxed.demos.dart`), as an env's
generation options declare it."""
from __future__ import annotations

import math
from dataclasses import dataclass

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
        for flag, v in (("--dart_noise", self.noise_std), ("--burst_scale", self.burst_scale)):
            if not math.isfinite(v) or v < 0:
                raise UserError(f"{flag} must be a finite number >= 0, got {v}")
        if not 0.0 <= self.burst_prob <= 1.0:
            raise UserError(f"--burst_prob must be in [0, 1], got {self.burst_prob}")
        if self.burst_steps < 1:
            raise UserError(f"--burst_steps must be >= 1, got {self.burst_steps}")

    @property
    def active(self) -> bool:
        return self.noise_std > 0 or (self.burst_prob > 0 and self.burst_scale > 0)


__all__ = ["PerturbConfig"]
