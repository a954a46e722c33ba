import numpy as np
import pytest

from equidiff_relaxed.demos.rollout import draw_theta, run_expert_episode
from equidiff_relaxed.envs import make_env, make_expert
from equidiff_relaxed.envs.planar_push import make_push_expert
from equidiff_relaxed.envs.push_scene import VARIANTS

ENV_NAMES = tuple(VARIANTS)

REGIONS = 8


@pytest.mark.parametrize("name", ENV_NAMES)
def test_expert_succeeds_in_every_region(name):
    """A small sample (3 episodes in each of 8 sectors); the >= 95 % figure over 200+ episodes is in the README."""
    env = make_env(name)
    expert = make_expert(name, env, 0.005)
    wins = np.zeros(REGIONS, dtype=int)
    for k in range(REGIONS):
        for e in range(3):
            rng = np.random.default_rng([7, k, e])
            ep = run_expert_episode(env, expert, [7, k, e], theta=draw_theta(rng, REGIONS, k))
            wins[k] += ep.success
            assert ep.data["action"].shape == (ep.length, 2) and ep.data["puck_pos"].shape == (ep.length, 2)
    assert wins.sum() >= 23 and wins.min() >= 2, wins


def test_expert_detours_around_the_pillar():
    """In the pillar's sector the planned puck path bends around it and episodes take longer."""
    env = make_env("push-pillar")
    expert = make_push_expert(env)
    pillar = np.array(env.geom.pillar_pos)
    blocked = run_expert_episode(env, expert, [0], theta=env.geom.pillar_angle)
    free = run_expert_episode(env, expert, [0], theta=env.geom.pillar_angle + np.pi)
    assert blocked.success and free.success
    assert len(expert.plan(np.array([0.08, 0.0]), np.array([0.3, 0.0]))) == 2  # far from the pillar: straight
    puck = blocked.data["puck_pos"].astype(np.float64)
    clearance = np.linalg.norm(puck - pillar, axis=1).min()
    assert clearance > env.geom.pillar_radius + env.geom.puck_radius
    assert blocked.length > free.length + 5


def _region2_episode(memoryless: bool):
    env = make_env("push-pillar")
    expert = make_push_expert(env, memoryless=memoryless)
    return env, expert, run_expert_episode(env, expert, [5], theta=env.geom.pillar_angle + 0.1)


def _fresh_action(env, obs_row):
    fresh = make_push_expert(env)
    fresh.reset(np.random.default_rng(0))
    return fresh.act(obs_row)


def test_expert_is_memoryless():
    """Same observation, same action: a fresh expert given any recorded observation of an episode (around the
    pillar, where planning matters) returns the recorded action; the older plan-once expert does not."""
    env, _, ep = _region2_episode(memoryless=True)
    assert ep.success
    keys = ("pusher_pos", "puck_pos", "goal_pos")
    for t in range(ep.length):
        row = {k: ep.data[k][t] for k in keys}
        np.testing.assert_allclose(_fresh_action(env, row), ep.data["action"][t], atol=1e-6)
    env, _, old = _region2_episode(memoryless=False)
    gaps = [np.linalg.norm(_fresh_action(env, {k: old.data[k][t] for k in keys}) - old.data["action"][t])
            for t in range(old.length)]
    assert max(gaps) > 0.01  # the plan made at the start is hidden state


def test_path_around_disc_is_consistent_when_replanned():
    """The shortest path around the pillar's keep-out disc, replanned from a point on it, is its own remainder."""
    from equidiff_relaxed.envs.push_expert import path_around_disc

    o, r = np.array([0.0, 0.1]), 0.08
    path = path_around_disc(np.array([0.0, 0.0]), np.array([0.0, 0.3]), o, r)
    assert len(path) > 3 and np.all(np.linalg.norm(path[1:-1] - o, axis=1) >= r - 1e-9)
    mid = path[len(path) // 2]
    again = path_around_disc(mid, np.array([0.0, 0.3]), o, r)
    assert np.sign(again[1][0] - o[0]) == np.sign(mid[0] - o[0])  # same side around the pillar
    assert len(path_around_disc(np.array([0.3, 0.0]), np.array([0.3, 0.3]), o, r)) == 2  # clear: straight
