"""Per-region success statistics with Wilson score intervals."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default); (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At p = 0 or 1 one bound equals p in exact arithmetic; rounding can put it a hair on the wrong side.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


@dataclass
class RegionStats:
    region: int
    theta_lo: float
    theta_hi: float
    episodes: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)

    def to_dict(self) -> dict:
        lo, hi = self.interval
        return {**asdict(self), "success_rate": self.rate, "ci95_lo": lo, "ci95_hi": hi}
