"""A robomimic dataset's own robosuite env: robosuite-1.4 controller configs translated, per-region placement, and the
user's path (robomimic HDF5 with images and states -> convert -> train -> eval per region in Lift)."""
import json

import h5py
import numpy as np
import pytest

pytest.importorskip("robosuite")

from scipy.spatial.transform import Rotation  # noqa: E402

from equidiff_relaxed.data.replay_buffer import ReplayBuffer  # noqa: E402
from equidiff_relaxed.envs.registry import make_env  # noqa: E402
from equidiff_relaxed.envs.robosuite.env_args import translate_controller_configs  # noqa: E402
from equidiff_relaxed.envs.robosuite.robomimic_env import check_env_args  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402
from tests.conftest import run_script  # noqa: E402

# A robosuite-1.4 part controller config, as public robomimic / MimicGen files carry it
OSC_POSE_14 = {"type": "OSC_POSE", "input_max": 1, "input_min": -1, "output_max": [0.05, 0.05, 0.05, 0.5, 0.5, 0.5],
               "output_min": [-0.05, -0.05, -0.05, -0.5, -0.5, -0.5], "kp": 150, "damping_ratio": 1,
               "impedance_mode": "fixed", "kp_limits": [0, 300], "damping_ratio_limits": [0, 10],
               "position_limits": None, "orientation_limits": None, "uncouple_pos_ori": True, "control_delta": True,
               "interpolation": None, "ramp_ratio": 0.2}


def lift_env_args(cameras: bool = False) -> dict:
    kwargs = {"has_renderer": False, "has_offscreen_renderer": cameras, "ignore_done": True, "use_object_obs": True,
              "use_camera_obs": cameras, "control_freq": 20, "controller_configs": dict(OSC_POSE_14),
              "robots": ["Panda"], "reward_shaping": False}
    if cameras:
        kwargs.update(camera_names=["agentview", "robot0_eye_in_hand"], camera_heights=32, camera_widths=32,
                      camera_depths=False)
    return {"env_name": "Lift", "type": 1, "env_kwargs": kwargs}


def test_legacy_controller_configs_become_composite_with_the_same_input():
    delta = translate_controller_configs(OSC_POSE_14, "Panda")
    arm = delta["body_parts"]["right"]
    assert delta["type"] == "BASIC" and arm["type"] == "OSC_POSE" and "control_delta" not in arm
    assert (arm["input_type"], arm["input_ref_frame"]) == ("delta", "world") and arm["kp"] == 150
    absolute = translate_controller_configs({**OSC_POSE_14, "control_delta": False}, "Panda")
    assert absolute["body_parts"]["right"]["input_type"] == "absolute"
    assert translate_controller_configs(delta, "Panda") == delta  # 1.5 configs pass unchanged
    assert translate_controller_configs(OSC_POSE_14, "Panda", absolute=True)["body_parts"]["right"][
        "input_type"] == "absolute"


@pytest.mark.parametrize("env_args, message", [
    ({"env_name": "NoSuchTask", "type": 1, "env_kwargs": {}}, "'NoSuchTask', which robosuite does not know"),
    ({"env_name": "Door", "type": 1, "env_kwargs": {}}, "'Door' has no orientation regions here"),
    ({"env_name": "Lift", "type": 2, "env_kwargs": {}}, "is not robosuite"),
    ({"type": 1}, "name no env"),
])
def test_bad_env_args_are_one_line_errors(env_args, message):
    with pytest.raises(UserError, match=message):
        check_env_args(env_args, "demo.hdf5")


def _yaw(quat_xyzw: np.ndarray) -> float:
    return float(Rotation.from_quat(quat_xyzw).as_euler("xyz")[2] % (2 * np.pi))


def test_each_episode_puts_the_cube_in_its_region_and_replays_from_its_seed():
    env = make_env("robomimic", env_args=lift_env_args(), n_regions=4)
    try:
        assert env.action_space.shape == (7,)
        for theta in (0.3, 2.0, 4.0, 5.9):
            obs, info = env.reset(seed=3, options={"theta": theta})
            assert info["region"] == int(theta // (np.pi / 2)) and info["theta"] == pytest.approx(theta)
            assert _yaw(obs["cube_quat"]) == pytest.approx(theta, abs=1e-5)  # the cube turned to theta
            assert np.linalg.norm(obs["cube_pos"][:2]) <= 0.03 * np.sqrt(2) + 1e-6  # still inside Lift's placement
            assert obs["object"].shape == (10,)
        first = env.reset(seed=7, options={"theta": 1.0})[0]
        again = env.reset(seed=7, options={"theta": 1.0})[0]
        assert all(np.array_equal(first[k], again[k]) for k in first)
        other = env.reset(seed=8, options={"theta": 1.0})[0]
        assert not np.array_equal(first["cube_pos"], other["cube_pos"])
        # robot0_eef_quat is the hand body's orientation (xyzw), as robosuite <= 1.4 files store it
        hand = env.rs.sim.data.get_body_xquat(env.robot.robot_model.eef_name["right"])
        assert np.allclose(np.abs(other["robot0_eef_quat"] @ np.r_[hand[1:], hand[0]]), 1.0, atol=1e-6)
    finally:
        env.close()


def _write_robomimic_file(path, n_demos: int = 2, steps: int = 16) -> None:
    """A robomimic-layout HDF5 as robomimic writes it: data/demo_i/{obs, actions, states, rewards, dones}, data
    attrs env_args (JSON) and total, mask/train. Demos: a proportional reach towards the cube (delta OSC)."""
    env = make_env("robomimic", env_args=lift_env_args(cameras=True))
    try:
        with h5py.File(path, "w") as f:
            data = f.create_group("data")
            total = 0
            for i in range(n_demos):
                obs, _ = env.reset(seed=i, options={"theta": 1.0 + 2.5 * i})
                frames, actions, states = [], [], []
                for _ in range(steps):
                    frames.append(obs)
                    states.append(env.get_state())
                    a = np.zeros(7)
                    a[:3] = np.clip(10 * (obs["cube_pos"] - obs["robot0_eef_pos"]), -1, 1)
                    a[6] = -1.0
                    actions.append(a)
                    obs, *_ = env.step(a)
                demo = data.create_group(f"demo_{i}")
                demo.attrs["num_samples"] = steps
                for key in ("agentview_image", "robot0_eye_in_hand_image", "robot0_eef_pos", "robot0_eef_quat",
                            "robot0_gripper_qpos", "object"):
                    demo.create_dataset(f"obs/{key}", data=np.stack([o[key] for o in frames]))
                demo.create_dataset("actions", data=np.stack(actions))
                demo.create_dataset("states", data=np.stack(states))
                demo.create_dataset("rewards", data=np.zeros(steps))
                demo.create_dataset("dones", data=np.r_[np.zeros(steps - 1), 1])
                total += steps
            data.attrs["total"] = total
            data.attrs["env_args"] = json.dumps(lift_env_args(cameras=True))
            f.create_dataset("mask/train", data=np.array([f"demo_{i}".encode() for i in range(n_demos)]))
    finally:
        env.close()


@pytest.mark.slow
def test_a_converted_robomimic_lift_policy_is_rolled_out_per_region_in_lift(tmp_path):
    src, data, run, out = tmp_path / "lift.hdf5", tmp_path / "lift.zarr", tmp_path / "run", tmp_path / "eval"
    _write_robomimic_file(src)
    before = src.read_bytes()
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(data), "--filter_key",
                      "train", "--abs_actions")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert src.read_bytes() == before  # the input is never modified
    with ReplayBuffer.open(data) as buf:
        reps = {k: v["rep"] for k, v in buf.attrs["shape_meta"]["obs"].items()}
    assert reps["robot0_eye_in_hand_image"] == "camera_inhand" and reps["agentview_image"] == "camera"
    # the image recipe as a user runs it: only the dataset (and, for this tiny run, sizes and steps) given
    bad = run_script("train.py", "--config", "configs/robomimic_image.yaml", "--data.dataset_path", str(data),
                     "--data.obs_reps", "{robot0_eye_in_hand_image: image}", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and not (tmp_path / "bad").exists()
    errors = [ln for ln in bad.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "declare rep 'camera_inhand'" in errors[0] and "Traceback" not in bad.stderr
    proc = run_script("train.py", "--config", "configs/robomimic_image.yaml", "--data.dataset_path", str(data),
                      "--data.batch_size", "4", "--trainer.max_steps", "2", "--model.image_crop", "28",
                      "--model.down_dims", "[8, 16, 32]", "--out", str(run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_script("eval.py", "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--regions", "4",
                      "--episodes_per_region", "1", "--max_steps", "4", "--n_envs", "1", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "results.json").read_text())["checkpoints"][0]
    assert result["env"] == "robomimic"
    assert [r["episodes"] for r in result["regions"]] == [1, 1, 1, 1]
    pick = {"wrist_at_limit", "never_reached_object", "grasp_missed", "dropped", "lifted_too_low"}
    assert all(e["success"] or e["failure"] in pick for e in result["episodes"])  # Lift's pick categories apply
    assert [e["region"] for e in result["episodes"]] == [0, 1, 2, 3]
    policy_meta = json.loads((run / "checkpoints" / "policy" / "config.json").read_text())["shape_meta"]
    assert policy_meta["obs"]["agentview_image"]["rep"] == "image"  # the recipe's EquiDiff-style declaration
    assert policy_meta["action"]["shape"] == [10]


def test_cameras_the_policy_needs_are_observed_and_a_step_observes_the_new_state():
    from equidiff_relaxed.envs.robosuite.robomimic_env import recreate_from_dataset

    env = make_env("robomimic", env_args=lift_env_args(), cameras=["agentview", "robot0_eye_in_hand"],
                   image_size=16, action_dim=10)
    try:
        obs, _ = env.reset(seed=0, options={"theta": 0.5})
        assert obs["agentview_image"].shape == (16, 16, 3) and obs["robot0_eye_in_hand_image"].dtype == np.uint8
        action = np.r_[obs["robot0_eef_pos"] + [0.0, 0.0, 0.05], [1, 0, 0, 0, -1, 0], -1.0]  # eef up, pointing down
        stepped, *_ = env.step(action)
        now = env._obs()  # observed afresh from the simulator
        assert all(np.array_equal(stepped[k], now[k]) for k in now)
        assert not np.array_equal(stepped["robot0_eef_pos"], obs["robot0_eef_pos"])
        # a step whose images the policy will not look at: same state and low-dim observation, no rendering
        blind, *_ = env.step_without_images(action)
        now = env._obs()
        assert all(np.array_equal(blind[k], now[k]) for k in now if not k.endswith("_image"))
        assert not blind["agentview_image"].any() and now["agentview_image"].any()
    finally:
        env.close()
    args = lift_env_args()
    recorded = {"name": "Lift", "type": 1, "kwargs": args["env_kwargs"], "source": "robomimic", "max_steps": 160}
    assert recreate_from_dataset(recorded)["max_steps"] == 160  # a file of ours: its generator's episode limit
    assert "max_steps" not in recreate_from_dataset({**recorded, "max_steps": None})  # others: robomimic's 400


@pytest.mark.parametrize("task, quat_key", [("Stack", "cubeA_quat"), ("NutAssemblySquare", "SquareNut_quat")])
def test_the_other_supported_tasks_turn_their_first_object_into_the_region(task, quat_key):
    """Stack and NutAssemblySquare are supported as Lift is: the first object's yaw is the episode's theta."""
    env_args = lift_env_args()
    env_args["env_name"] = task
    env = make_env("robomimic", env_args=env_args, n_regions=4)
    try:
        for theta in (0.3, 4.0):
            obs, info = env.reset(seed=1, options={"theta": theta})
            assert info["region"] == int(theta // (np.pi / 2))
            assert _yaw(obs[quat_key]) == pytest.approx(theta, abs=1e-5)
            _, _, _, _, info = env.step(np.zeros(7))
            assert info["is_success"] in (False, 0)  # the task's own success check runs
    finally:
        env.close()
