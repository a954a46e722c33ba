"""push-wall: a world-fixed wall whose length is the break strength; the expert goes round its end."""
import math
import re

import numpy as np
import pytest

from equidiff_relaxed.demos.generate import GenerateConfig, generate
from equidiff_relaxed.demos.rollout import run_expert_episode
from equidiff_relaxed.envs import make_env
from equidiff_relaxed.envs.outcomes import trace_row
from equidiff_relaxed.envs.planar_push import make_push_expert
from equidiff_relaxed.envs.push_failures import BLOCKED_BY_WALL, WALL_ANALYSIS
from equidiff_relaxed.envs.push_scene import WALL_FULL_HALF_LENGTH
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval.evaluate import env_of


def test_strength_zero_is_the_symmetric_push_task():
    wall, push = make_env("push-wall", geometry={"wall_strength": 0.0}), make_env("push")
    try:
        a, info_a = wall.reset(seed=3, options={"theta": 2.0})
        b, _ = push.reset(seed=3, options={"theta": 2.0})
        assert "wall_ends" not in info_a and wall.model.ngeom == push.model.ngeom
        cause = wall.shape_meta_dict()["breaking"]["wall"]["value"]  # still declared: a zero-length wall
        assert cause[2:] == [0.0, 0.0] and np.hypot(*cause[:2]) > 0.1
        for _ in range(5):
            step = a["puck_pos"] + 0.01
            a, *_ = wall.step(step)
            b, *_ = push.step(step)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    finally:
        wall.close()
        push.close()


def test_full_wall_blocks_the_straight_push_and_the_expert_detours_round_its_end():
    env = make_env("push-wall", max_steps=40)
    try:
        assert env.geom.wall_half_length == WALL_FULL_HALF_LENGTH and env.reflection_axis == env.geom.wall_angle
        theta = env.geom.wall_angle
        _, info = env.reset(seed=0, options={"theta": theta})
        scene, rows, done = WALL_ANALYSIS.scene(info), [trace_row(info, WALL_ANALYSIS.trace_keys)], False
        while not done:  # head straight for the goal, as an equivariant copy of the open-field push would
            _, _, term, trunc, info = env.step(info["goal_pos"])
            rows.append(trace_row(info, WALL_ANALYSIS.trace_keys))
            done = term or trunc
        assert not term and WALL_ANALYSIS.metrics(scene, rows, False)[0].failure == BLOCKED_BY_WALL
        expert = make_push_expert(env)
        blocked = run_expert_episode(env, expert, [0], theta=theta)
        free = run_expert_episode(env, expert, [0], theta=theta + math.pi)
        assert blocked.success and free.success and blocked.length > free.length + 10
        wall = np.asarray(env.geom.wall_ends)
        seg = wall[1] - wall[0]
        t = np.clip(((blocked.data["puck_pos"] - wall[0]) @ seg) / (seg @ seg), 0, 1)
        gap = np.linalg.norm(blocked.data["puck_pos"] - (wall[0] + t[:, None] * seg), axis=1)
        assert gap.min() > env.geom.puck_radius + env.geom.wall_half_thickness  # it never touched the wall
    finally:
        env.close()


def test_strength_is_a_generation_option_recorded_and_recreated_for_evaluation(tmp_path):
    out = tmp_path / "w.zarr"
    generate(GenerateConfig("push-wall", episodes=2, seed=0, options={"wall_strength": 0.5}), out, progress=False)
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer

    env_attrs = ReplayBuffer.open(out).attrs["env"]
    assert env_attrs["geometry"]["wall_strength"] == 0.5
    name, kwargs = env_of(env_attrs, None, str(out))
    assert name == "push-wall" and kwargs["geometry"]["wall_strength"] == 0.5
    env = make_env(name, **kwargs)
    assert env.geom.wall_half_length == pytest.approx(0.5 * WALL_FULL_HALF_LENGTH)
    env.close()
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(UserError, match=r"--wall_strength must be a number in \[0, 1\]"):
            generate(GenerateConfig("push-wall", episodes=1, options={"wall_strength": bad}), tmp_path / "x.zarr",
                     progress=False)
    with pytest.raises(UserError, match="--wall_strength is not an option of push "):
        generate(GenerateConfig("push", episodes=1, options={"wall_strength": 1.0}), tmp_path / "x.zarr",
                 progress=False)
    assert not (tmp_path / "x.zarr").exists()


def test_walls_elsewhere_and_two_walls_are_recorded_recreated_and_detoured(tmp_path):
    out = tmp_path / "two.zarr"
    generate(GenerateConfig("push-wall", episodes=2, seed=0, options={"walls": [22.5, 202.5]}), out, progress=False)
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer

    attrs = ReplayBuffer.open(out).attrs["env"]
    name, kwargs = env_of(attrs, None, str(out))
    env = make_env(name, **{**kwargs, "max_steps": 60})
    try:
        assert env.geom.wall_angles == pytest.approx((math.radians(22.5), math.radians(202.5)))
        assert set(env.shape_meta_dict()["breaking"]) == {"wall", "wall_2"}  # each wall a declared cause
        expert = make_push_expert(env)
        for theta in env.geom.wall_angles:  # straight into either wall: the expert goes round it
            _, info = env.reset(seed=1, options={"theta": theta})
            assert np.asarray(info["wall_ends"]).shape == (2, 2, 2)
            assert run_expert_episode(env, expert, [1], theta=theta).success
    finally:
        env.close()
    one = make_env("push-wall", geometry={"wall_angle": math.radians(292.5)})  # --wall_angle 292.5: region 6
    try:
        expected = np.asarray(one.geom.ends_of_wall(math.radians(292.5)))
        assert np.allclose(one.geom.wall_ends, expected) and expected[:, 1].mean() < 0  # below the centre, region 6
    finally:
        one.close()


@pytest.mark.parametrize("options, message", [
    ({"wall_angle": float("inf")}, "--wall_angle / --walls take finite angles"),
    ({"walls": [10.0, 60.0]}, "--walls 10 and 60 are less than 90 degrees apart"),
    ({"wall_distance": 0.1}, "--wall_distance 0.1 puts a wall over the puck's start circle or its goal"),
    ({"wall_distance": 0.29}, "--wall_distance 0.29 puts a wall over the puck's start circle or its goal"),
    ({"wall_angle": 10.0, "walls": [20.0, 200.0]}, "give --wall_angle (one wall) or --walls (several), not both"),
])
def test_walls_that_cannot_work_are_one_error_and_nothing_is_written(tmp_path, options, message):
    with pytest.raises(UserError, match=re.escape(message)):
        generate(GenerateConfig("push-wall", episodes=1, options=options), tmp_path / "x.zarr", progress=False)
    assert not (tmp_path / "x.zarr").exists()
