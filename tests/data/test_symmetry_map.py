import math

import numpy as np

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.data.symmetry_map import canonical_paths, format_map, symmetry_breaking_map
from equidiff_relaxed.symmetry import rotate_field

CENTER = (0.2, -0.1)


def make_buffer(break_region: int | None, n_per_region: int = 6, seed: int = 0) -> ReplayBuffer:
    """Episodes whose canonical path is a straight line (plus noise); in ``break_region`` the path bends."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer.create_empty()
    for k in range(8):
        for _ in range(n_per_region):
            theta = (k + rng.uniform()) * math.pi / 4
            n = int(rng.integers(10, 20))
            s = np.linspace(0, 1, n)
            canon = np.stack([0.1 + 0.2 * s, 0.1 * np.sin(np.pi * s) * (k == break_region)], 1)
            canon = canon + rng.normal(scale=0.002, size=canon.shape)
            act = rotate_field(canon + np.array(CENTER), "pos2", theta, CENTER).astype(np.float32)
            buf.add_episode({"action": act, "obs": act}, {"theta": theta})
    buf.set_attrs(shape_meta=ShapeMeta.from_dict({"obs": {"obs": {"shape": [2], "rep": "pos2"}},
                                                  "action": {"shape": [2], "rep": "pos2"}}),
                  symmetry={"center": list(CENTER), "group": "SO(2)"})
    return buf


def test_canonical_paths_undo_the_rotation():
    buf = make_buffer(None)
    paths, theta = canonical_paths(buf, n_points=16)
    assert paths.shape == (48, 16, 2)
    assert np.allclose(paths[:, 0], paths[0, 0] * 0 + [0.1 + CENTER[0], CENTER[1]], atol=0.01)


def test_map_flags_only_the_broken_region():
    rows = symmetry_breaking_map(make_buffer(break_region=3), n_regions=8)
    ratios = np.array([r.ratio for r in rows])
    assert [r.episodes for r in rows] == [6] * 8
    assert ratios[3] > 5 and np.all(np.delete(ratios, 3) < 2)
    symmetric = np.array([r.ratio for r in symmetry_breaking_map(make_buffer(None), 8)])
    assert symmetric.max() < 2
    text = format_map(rows)
    assert len(text.splitlines()) == 10 and "135.0-180.0" in text
