"""robosuite Lift / Stack adapter and experts (skipped without the [robosuite] extra)."""
import math

import numpy as np
import pytest

pytest.importorskip("robosuite")

from scipy.spatial.transform import Rotation  # noqa: E402

from equidiff_relaxed.data.shape_meta import ShapeMeta  # noqa: E402
from equidiff_relaxed.envs import make_env  # noqa: E402
from equidiff_relaxed.envs.robosuite.tasks import make_pick_expert  # noqa: E402
from equidiff_relaxed.envs.robosuite.expert import nearest_equivalent_yaw  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402
from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d  # noqa: E402


@pytest.fixture(scope="module")
def lift():
    env = make_env("lift", n_regions=4)
    yield env
    env.close()


@pytest.fixture(scope="module")
def stack():
    env = make_env("stack")
    yield env
    env.close()


def run_expert(env, theta: float, seed: int, noise: float = 0.002) -> tuple[bool, int]:
    expert = make_pick_expert(env, noise)
    obs, _ = env.reset(seed=seed, options={"theta": theta})
    expert.reset(np.random.default_rng(seed))
    for t in range(env.max_steps):
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        if terminated or truncated:
            return bool(terminated), t + 1
    return False, env.max_steps


@pytest.mark.parametrize("theta", [0.3, 2.0, 4.0])
def test_layout_turns_with_theta(lift, theta):
    obs, info = lift.reset(seed=1, options={"theta": theta})
    r, jitter = lift.layout.radius, lift.layout.jitter
    cube = obs["object"][:3]
    expected = r * np.array([math.cos(theta), math.sin(theta)])
    assert np.all(np.abs(cube[:2] - expected) <= jitter + 1e-5)
    yaw = Rotation.from_quat(obs["object"][3:7]).as_euler("xyz")[2]
    assert abs(math.remainder(yaw - theta, 2 * math.pi)) <= math.radians(lift.layout.yaw_jitter) + 1e-4
    assert info["theta"] == pytest.approx(theta) and info["region"] == int(theta // (math.pi / 2))
    assert not info["is_success"]
    # the relative vector in 'object' is cube - eef, in the world frame
    assert np.allclose(obs["object"][7:10], cube - obs["robot0_eef_pos"], atol=1e-5)


def test_stack_layout_puts_cube_b_a_quarter_turn_further(stack):
    theta = 1.0
    obs, _ = stack.reset(seed=2, options={"theta": theta})
    poses = stack.object_poses()
    angles = np.arctan2(poses[:, 1], poses[:, 0])
    spacing = math.radians(stack.layout.spacing)
    assert abs(math.remainder(angles[0] - theta, 2 * math.pi)) < 0.1
    assert abs(math.remainder(angles[1] - theta - spacing, 2 * math.pi)) < 0.1
    assert np.allclose(obs["object"][0:3], poses[0, :3], atol=1e-5) and obs["object"].shape == (23,)


def test_reset_is_a_function_of_the_seed(lift):
    a, _ = lift.reset(seed=7, options={"theta": 1.0})
    b, _ = lift.reset(seed=7, options={"theta": 1.0})
    c, _ = lift.reset(seed=8, options={"theta": 1.0})
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["robot0_eef_pos"], c["robot0_eef_pos"])


def test_next_theta_is_used_once(lift):
    lift.next_theta = 5.0
    _, info = lift.reset(seed=0)
    assert info["theta"] == pytest.approx(5.0) and lift.next_theta is None


def test_observations_match_spaces_and_shape_meta(lift):
    obs, _ = lift.reset(seed=0)
    assert lift.observation_space.contains(obs)
    meta = ShapeMeta.from_dict(lift.shape_meta_dict())
    assert set(meta.obs) == set(obs)
    meta.check_arrays({k: v.shape for k, v in obs.items()} | {"action": (10,)}, source="lift")
    assert meta.action.rep == "pos3+rot6d+scalar:1" and meta.obs["object"].rep == "pos3+quat+vec2+scalar:1"
    from equidiff_relaxed.envs.protocol import SymmetricTaskEnv

    assert isinstance(lift, SymmetricTaskEnv)  # the contract demos/ and eval/ rely on


def test_absolute_action_holds_and_moves_the_grip_site(lift):
    lift.reset(seed=0, options={"theta": 0.0})
    pos, rot = lift.grip_pose()
    hold = np.concatenate([pos, matrix_to_rot6d(rot), [-1.0]])
    for _ in range(10):
        lift.step(hold)
    assert np.linalg.norm(lift.grip_pose()[0] - pos) < 2e-3
    target = pos + np.array([0.05, -0.05, 0.03])
    turned = Rotation.from_euler("z", 0.4).as_matrix() @ rot
    for _ in range(40):
        lift.step(np.concatenate([target, matrix_to_rot6d(turned), [-1.0]]))
    new_pos, new_rot = lift.grip_pose()
    assert np.linalg.norm(new_pos - target) < 3e-3
    assert np.linalg.norm(Rotation.from_matrix(new_rot.T @ turned).as_rotvec()) < math.radians(3)


def test_bad_actions_are_refused(lift):
    lift.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        lift.step(np.full(10, np.nan))
    with pytest.raises(ValueError, match="shape"):
        lift.step(np.zeros(7))


def test_unknown_task_and_action_mode():
    from equidiff_relaxed.envs.robosuite.tasks import RobosuiteTaskEnv

    with pytest.raises(UserError, match="unknown robosuite task"):
        RobosuiteTaskEnv("push")
    with pytest.raises(UserError, match="unknown action_mode"):
        RobosuiteTaskEnv("lift", action_mode="joint")


def test_grasp_yaw_is_the_least_wrist_turn():
    assert nearest_equivalent_yaw(math.radians(100), 90) == pytest.approx(math.radians(10))
    assert nearest_equivalent_yaw(math.radians(-50), 90) == pytest.approx(math.radians(40))
    assert -math.pi / 4 <= nearest_equivalent_yaw(3.0, 90) < math.pi / 4


@pytest.mark.parametrize("theta", [0.4, 1.9, 3.5, 5.3])
def test_lift_expert_succeeds_around_the_circle(lift, theta):
    success, steps = run_expert(lift, theta, seed=int(theta * 10))
    assert success and steps < 100


@pytest.mark.parametrize("theta", [0.8, 4.0])
def test_stack_expert_succeeds(stack, theta):
    success, _ = run_expert(stack, theta, seed=3)
    assert success


def test_delta_actions_with_the_expert():
    env = make_env("lift", action_mode="delta")
    try:
        assert ShapeMeta.from_dict(env.shape_meta_dict()).action.shape == (7,)
        success, _ = run_expert(env, 2.5, seed=4)
        assert success
    finally:
        env.close()


def test_far_layout_breaks_reach_on_the_far_side():
    """At r = 0.3 m the far side of the table (theta ~ 0, away from the robot base) is out of the expert's reach;
    the near side is not. This is the symmetry break the task is meant to have."""
    env = make_env("lift", layout={"radius": 0.3}, max_steps=100)
    try:
        assert not run_expert(env, 0.05, seed=5)[0]
        assert run_expert(env, math.pi / 2, seed=5)[0]
    finally:
        env.close()


def test_missing_robosuite_is_one_clear_error(monkeypatch):
    import builtins

    from equidiff_relaxed.envs.robosuite import tasks as robosuite_tasks

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "robosuite" or name.startswith("robosuite."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    assert not robosuite_tasks.robosuite_available()
    with pytest.raises(UserError, match=r"pip install 'robosuite>=1\.5,<1\.6'$") as err:
        make_env("lift")
    assert ".[" not in str(err.value), "the hint must work outside a checkout (from PyPI)"


def test_camera_images_are_recorded_upright_and_declared_as_cameras():
    env = make_env("lift", cameras=("agentview",), image_size=64)
    try:
        obs, _ = env.reset(seed=0, options={"theta": 0.0})
        img = obs["agentview_image"]
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and img.std() > 5
        # upright: the table (bright, near the camera) fills the bottom rows, the robot and backdrop the top
        assert img[-8:].mean() > img[:8].mean()
        meta = ShapeMeta.from_dict(env.shape_meta_dict())
        assert meta.camera_keys == ["agentview_image"] and meta.top_down_keys == []
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_wrist_follows_theta_into_its_limit_only_without_object_symmetry(lift):
    """Region 6 (theta ~ 290 deg): grasping as if the object had no rotational symmetry drives the wrist (joint 7)
    to its +2.897 rad limit; the cube's 90-degree symmetry lets the expert stay far from it."""
    def wrist_max(symmetry_deg: float) -> float:
        expert = make_pick_expert(lift, 0.0, symmetry_deg=symmetry_deg)
        obs, _ = lift.reset(seed=11, options={"theta": math.radians(290)})
        expert.reset(np.random.default_rng(0))
        angles = []
        for _ in range(80):
            obs, _, terminated, _, _ = lift.step(expert.act(obs))
            angles.append(lift.wrist_angle(lift.get_state()))
            if terminated:
                break
        assert lift.wrist_angle(lift.get_state()) == pytest.approx(lift.rs.sim.data.qpos[lift._joint_idx[6]])
        return max(angles)

    assert wrist_max(360.0) > 2.8
    assert wrist_max(90.0) < 2.0
