import numpy as np
import pytest

from equidiff_relaxed.data.split import split_episodes
from equidiff_relaxed.errors import UserError


def test_deterministic_disjoint_and_complete():
    a = split_episodes(50, 0.1, seed=3)
    b = split_episodes(50, 0.1, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    train, val = a
    assert len(val) == 5 and len(train) == 45
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(range(50))
    other = split_episodes(50, 0.1, seed=4)
    assert not np.array_equal(other[1], val)


@pytest.mark.parametrize("n, ratio", [(2, 0.01), (2, 0.9), (3, 0.5), (10, 0.999)])
def test_at_least_one_episode_each_side(n, ratio):
    train, val = split_episodes(n, ratio, seed=0)
    assert len(train) >= 1 and len(val) >= 1


def test_no_validation():
    train, val = split_episodes(1, 0.0)
    assert train.tolist() == [0] and len(val) == 0


def test_n_demos_is_nested_and_keeps_validation_fixed():
    sets = [split_episodes(100, 0.1, seed=7, n_demos=n) for n in (10, 25, 50)]
    assert [len(t) for t, _ in sets] == [10, 25, 50]
    assert set(sets[0][0]) <= set(sets[1][0]) <= set(sets[2][0])
    assert all(np.array_equal(v, sets[0][1]) for _, v in sets)
    # not simply the first episodes in storage order
    assert sets[0][0].tolist() != list(range(10))


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_episodes=1, val_ratio=0.1), "at least 2 episodes"),
    (dict(n_episodes=10, val_ratio=0.1, n_demos=10), "only 9 training episodes"),
    (dict(n_episodes=10, val_ratio=0.1, n_demos=0), "n_demos must be >= 1"),
    (dict(n_episodes=10, val_ratio=1.0), "val_ratio"),
    (dict(n_episodes=0, val_ratio=0.0), "no episodes"),
])
def test_bad_split_arguments(kwargs, message):
    with pytest.raises(UserError, match=message):
        split_episodes(**kwargs)
