import math

import numpy as np
import pytest

from equidiff_relaxed.eval.plan import episode_plan
from equidiff_relaxed.eval.stats import wilson_interval
from equidiff_relaxed.symmetry import region_bounds, region_of


@pytest.mark.parametrize("k, n, lo, hi", [
    (0, 10, 0.0, 0.27754),      # reference values: statsmodels proportion_confint(method="wilson")
    (5, 10, 0.23659, 0.76341),
    (10, 10, 0.72246, 1.0),
    (8, 20, 0.21878, 0.61336),
    (95, 100, 0.88825, 0.97846),
])
def test_wilson_interval_known_values(k, n, lo, hi):
    a, b = wilson_interval(k, n)
    assert math.isclose(a, lo, abs_tol=1e-4) and math.isclose(b, hi, abs_tol=1e-4)


@pytest.mark.parametrize("n", [1, 3, 10, 25, 37, 100])
def test_wilson_interval_contains_the_rate_at_the_extremes(n):
    # 10/10 once gave hi = 0.9999999999999999 < 1, and the polar plot refused the negative error bar
    assert wilson_interval(n, n)[1] == 1.0 and wilson_interval(0, n)[0] == 0.0
    for k in range(n + 1):
        lo, hi = wilson_interval(k, n)
        assert lo <= k / n <= hi


def test_wilson_interval_without_episodes():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_theta_stays_inside_each_sector_and_covers_it():
    plan = episode_plan(8, 200, seed=3)
    assert len(plan) == 1600
    for k in range(8):
        thetas = np.array([s.theta for s in plan if s.region == k])
        lo, hi = region_bounds(k, 8)
        assert np.all(region_of(thetas, 8) == k)
        assert thetas.min() - lo < 0.05 and hi - thetas.max() < 0.05  # reaches both edges
        counts, _ = np.histogram(thetas, bins=4, range=(lo, hi))
        assert counts.min() >= 30  # and fills the sector (uniform: 50 expected per quarter)
        assert len(thetas) == 200


def test_plan_is_a_function_of_seed_region_episode():
    a, b = episode_plan(4, 5, seed=1), episode_plan(4, 5, seed=1)
    assert a == b
    c = episode_plan(4, 6, seed=1)  # more episodes: the first 5 of each region are unchanged
    assert [s for s in c if s.index < 5] == a
    assert episode_plan(4, 5, seed=2) != a
