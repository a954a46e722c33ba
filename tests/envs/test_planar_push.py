import math

import gymnasium as gym
import numpy as np
import pytest

from equidiff_relaxed.envs import make_env
from equidiff_relaxed.envs.planar_push import make_push_expert
from equidiff_relaxed.envs.push_scene import VARIANTS

ENV_NAMES = tuple(VARIANTS)
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.symmetry import region_of, rotate_field, rotate_image
from equidiff_relaxed.symmetry.actions import transform_field

EQUIVARIANCE_TOL = 1e-4  # metres, on positions after one 0.1 s control step with contacts


def transitions(env, seeds_thetas=((1, 0.7), (2, 2.9), (5, 4.4)), steps=8):
    """(state, action) pairs visited by the expert, pushing included."""
    expert = make_push_expert(env)
    for seed, theta in seeds_thetas:
        obs, _ = env.reset(seed=seed, options={"theta": theta})
        expert.reset()
        for _ in range(steps):
            action = expert.act(obs).astype(np.float64)
            state = env.get_state()
            yield state, action
            env.set_state(state)  # the caller moved the simulator elsewhere
            obs, *_ = env.step(action)


def max_equivariance_error(env, phis=(0.05, 0.3, math.pi / 2, 2.0, -1.1)) -> float:
    worst = 0.0
    for state, action in transitions(env):
        env.set_state(state)
        env.step(action)
        next_state = env.get_state()
        for phi in phis:
            env.set_state(env.rotate_state(state, phi))
            env.step(rotate_field(action, "pos2", phi))
            diff = env.get_state() - env.rotate_state(next_state, phi)
            worst = max(worst, float(np.abs(diff[: env.model.nq]).max()))
    return worst


def max_reflection_error(env, axis: float, phis=(0.0, 0.3, -2.0), seeds_thetas=((1, 0.7), (2, 2.9), (5, 4.4)),
                         steps=8) -> float:
    """Like max_equivariance_error, for the elements "reflect across ``axis``, then rotate by phi"."""
    worst = 0.0
    for state, action in transitions(env, seeds_thetas, steps):
        env.set_state(state)
        env.step(action)
        next_state = env.get_state()
        for phi in phis:
            env.set_state(env.transform_state(state, phi, reflect=True, axis=axis))
            env.step(transform_field(action, "pos2", phi, True, axis=axis))
            diff = env.get_state() - env.transform_state(next_state, phi, reflect=True, axis=axis)
            worst = max(worst, float(np.abs(diff[: env.model.nq]).max()))
    return worst


@pytest.mark.parametrize("axis", [0.0, 0.9])
def test_push_dynamics_are_reflection_equivariant(axis):
    assert max_reflection_error(make_env("push"), axis) < EQUIVARIANCE_TOL


def test_pillar_keeps_the_reflection_across_its_declared_axis_only():
    env = make_env("push-pillar")
    axis = env.dataset_attrs()["symmetry"]["reflection_axis"]
    assert axis == pytest.approx(5 * math.pi / 8)  # the ray through the pillar
    # straight pushes whose mirror image across axis + 1 runs into the pillar (theta -> 2 (axis + 1) - theta)
    mirrored_into_pillar = dict(phis=(0.0,), seeds_thetas=((1, axis + 2.0), (2, axis + 1.9)), steps=20)
    assert max_reflection_error(env, axis, **mirrored_into_pillar) < EQUIVARIANCE_TOL
    assert max_reflection_error(env, axis + 1.0, **mirrored_into_pillar) > 10 * EQUIVARIANCE_TOL


def test_reflecting_a_state_twice_gives_it_back():
    env = make_env("push")
    env.reset(seed=3)
    env.step(np.array([0.05, 0.02]))
    state = env.get_state()
    twice = env.transform_state(env.transform_state(state, 0.0, True, 0.4), 0.0, True, 0.4)
    assert np.allclose(twice, state, atol=1e-12) and not np.allclose(env.transform_state(state, 0.0, True, 0.4), state)


def test_push_dynamics_are_rotation_equivariant():
    env = make_env("push")
    assert max_equivariance_error(env) < EQUIVARIANCE_TOL


@pytest.mark.parametrize("name", ["push-pillar", "push-drift"])
def test_symmetry_breakers_break_equivariance(name):
    assert max_equivariance_error(make_env(name)) > 10 * EQUIVARIANCE_TOL


def test_layout_rotates_with_theta_and_info_reports_region():
    env = make_env("push", n_regions=8)
    obs0, info0 = env.reset(seed=4, options={"theta": 0.0})
    obs1, info1 = env.reset(seed=4, options={"theta": 2.5})
    for key in ("pusher_pos", "puck_pos", "goal_pos"):
        assert np.allclose(obs1[key], rotate_field(obs0[key].astype(np.float64), "pos2", 2.5), atol=1e-6)
    assert info1["theta"] == 2.5 and info1["region"] == region_of(2.5, 8) == 3
    _, info = env.reset(seed=5)
    assert 0.0 <= info["theta"] < 2 * math.pi


def test_actions_clip_to_the_workspace_disc():
    env = make_env("push")
    r = env.geom.workspace_radius
    far = np.array([3.0, 4.0])
    assert np.allclose(env.clip_action(far), far / 5.0 * r)
    assert np.allclose(env.clip_action(np.array([0.1, -0.2])), [0.1, -0.2])
    with pytest.raises(ValueError, match="finite"):
        env.clip_action(np.array([np.nan, 0.0]))


def test_pillar_blocks_the_straight_push_and_is_not_observed():
    """Puck and pusher placed exactly on the radial line through the pillar, pusher driven straight outward:
    without the pillar the puck travels past the pillar's distance; with it, it never gets past and never enters."""
    finals = {}
    for name in ("push", "push-pillar"):
        env = make_env(name, max_steps=100)
        g = env.geom
        theta = g.pillar_angle
        u = np.array([math.cos(theta), math.sin(theta)])
        obs, _ = env.reset(seed=0, options={"theta": theta})
        assert set(obs) == {"pusher_pos", "puck_pos", "goal_pos"}
        state = env.get_state()
        q = env._puck_qpos
        state[q : q + 2] = 0.08 * u
        state[0:2] = (0.08 - g.puck_radius - g.pusher_radius - 0.002) * u
        env.set_state(state)
        track = []
        for k in range(25):
            obs, *_ = env.step(state[0:2] + u * 0.02 * (k + 1))
            track.append(obs["puck_pos"].astype(np.float64))
        finals[name] = (np.array(track), g, u)
    free, g, u = finals["push"]
    assert free[-1] @ u > g.pillar_distance + 0.1
    assert np.abs(free @ np.array([-u[1], u[0]])).max() < 0.005
    blocked, g, u = finals["push-pillar"]
    assert (blocked @ u).max() < g.pillar_distance + g.pillar_radius  # at most beside the pillar, never beyond
    assert np.linalg.norm(blocked - np.array(g.pillar_pos), axis=1).min() > g.pillar_radius + g.puck_radius - 0.003
    # the obstacle changes nothing that the low-dim observation shows
    a, _ = make_env("push").reset(seed=3, options={"theta": 2.0})
    b, _ = make_env("push-pillar").reset(seed=3, options={"theta": 2.0})
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_success_terminates_with_reward():
    env = make_env("push")
    obs, _ = env.reset(seed=0, options={"theta": 1.0})
    state = env.get_state()
    q = env._puck_qpos
    state[q : q + 2] = env.goal  # put the puck on the goal
    env.set_state(state)
    _, reward, terminated, truncated, info = env.step(env.pusher_pos)
    assert reward == 1.0 and terminated and not truncated and info["is_success"]


def test_truncates_after_max_steps():
    env = make_env("push", max_steps=3)
    obs, _ = env.reset(seed=0)
    flags = [env.step(obs["pusher_pos"])[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_image_is_top_down_and_rotates_with_the_layout():
    env = make_env("push", image_size=88)
    obs0, _ = env.reset(seed=2, options={"theta": 0.3})
    obs1, _ = env.reset(seed=2, options={"theta": 0.3 + math.pi / 2})
    img0, img1 = obs0["image"], obs1["image"]
    assert img0.shape == (88, 88, 3) and img0.dtype == np.uint8
    rotated = rotate_image(img0, math.pi / 2, channels_last=True)
    err = np.abs(rotated.astype(int) - img1.astype(int)).mean()
    baseline = np.abs(img0.astype(int) - img1.astype(int)).mean()
    assert err < 0.5 and baseline > 5 * max(err, 0.05)
    env.close()


def test_unknown_env_name():
    with pytest.raises(UserError, match=r"unknown env .pushh. \(known: push, push-pillar, push-drift, push-wall, lift, stack, robomimic\)"):
        make_env("pushh")
    assert ENV_NAMES == ("push", "push-pillar", "push-drift", "push-wall")


def test_async_vector_env_with_images():
    envs = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("equidiff_relaxed.envs:equidiff/push-pillar-v0", image_size=16) for _ in range(2)],
        context="spawn")
    try:
        obs, info = envs.reset(seed=[0, 1], options={"theta": 1.0})
        assert obs["image"].shape == (2, 16, 16, 3) and obs["puck_pos"].shape == (2, 2)
        assert np.allclose(info["theta"], 1.0)
        obs, reward, terminated, truncated, info = envs.step(obs["puck_pos"])
        assert obs["image"].shape == (2, 16, 16, 3) and obs["image"].max() > 0
    finally:
        envs.close()


def test_push_envs_implement_the_task_env_protocol():
    from equidiff_relaxed.envs.protocol import SymmetricTaskEnv, task_env

    for name in ENV_NAMES:
        env = make_env(name)
        assert isinstance(env, SymmetricTaskEnv) and task_env(gym.wrappers.TimeLimit(env, 5)) is env
        assert {"env", "symmetry"} <= set(env.dataset_attrs()) and "reflection_axis" in env.dataset_attrs()["symmetry"]
    with pytest.raises(UserError, match="not a symmetric task env .missing: max_steps, n_regions, next_theta"):
        task_env(gym.make("CartPole-v1"))
