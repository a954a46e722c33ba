import math

import numpy as np
import pytest

from equidiff_relaxed.symmetry import region_bounds, region_of, wrap_to_2pi


def test_wrap_to_2pi_range():
    x = np.array([-1e-18, -math.pi, 0.0, 2 * math.pi, 7.0, -7.0])
    w = wrap_to_2pi(x)
    assert np.all((w >= 0) & (w < 2 * math.pi))
    assert math.isclose(wrap_to_2pi(-math.pi), math.pi)
    assert wrap_to_2pi(2 * math.pi) == 0.0


def test_regions_partition_the_circle():
    k = 8
    theta = np.linspace(0, 2 * math.pi, 1001, endpoint=False)
    idx = region_of(theta, k)
    assert set(idx.tolist()) == set(range(k))
    for r in range(k):
        lo, hi = region_bounds(r, k)
        inside = theta[idx == r]
        assert np.all((inside >= lo - 1e-12) & (inside < hi))
    assert region_of(2 * math.pi / k, k) == 1  # sectors are closed on the left
    assert region_of(-1e-9, k) == k - 1


def test_region_offset_shifts_sectors():
    k = 4
    assert region_of(0.0, k, offset=math.pi / 4) == k - 1
    assert region_of(math.pi / 4, k, offset=math.pi / 4) == 0
    lo, hi = region_bounds(0, k, offset=-math.pi / 4)
    assert math.isclose(lo, 7 * math.pi / 4) and math.isclose(hi - lo, math.pi / 2)


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_region_count(bad):
    with pytest.raises(ValueError):
        region_of(0.1, bad)
