"""``convert_robomimic.py --abs_actions``: delta OSC demos -> 10-D absolute pose actions that replay the demo."""
import json

import h5py
import numpy as np
import pytest

pytest.importorskip("robosuite")

from equidiff_relaxed.data.replay_buffer import ReplayBuffer  # noqa: E402
from equidiff_relaxed.envs.registry import get_env_spec, make_env  # noqa: E402
from equidiff_relaxed.envs.robosuite.abs_actions import absolute_pose_to_osc  # noqa: E402
from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d  # noqa: E402
from tests.conftest import run_script  # noqa: E402
from tests.envs.test_robomimic_env import _write_robomimic_file  # noqa: E402


@pytest.fixture(scope="module")
def lift_delta_hdf5(tmp_path_factory):
    """Scripted-expert Lift demos (delta OSC, the cube lifted), exported to the robomimic layout with states."""
    tmp = tmp_path_factory.mktemp("lift_delta")
    zarr, hdf5 = tmp / "lift.zarr", tmp / "lift.hdf5"
    proc = run_script("datasets/generate.py", "--env", "lift", "--episodes", "2", "--action_mode", "delta",
                      "--out", str(zarr), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_script("datasets/export_robomimic.py", "--zarr", str(zarr), "--out", str(hdf5))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return hdf5


def test_rot6d_actions_become_the_absolute_controllers_axis_angle():
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec([0.3, -2.0, 0.5])
    action = np.concatenate([[0.1, -0.2, 1.0], matrix_to_rot6d(rot.as_matrix()), [3.0]])
    osc = absolute_pose_to_osc(action)
    assert osc.shape == (7,) and np.allclose(osc[:3], [0.1, -0.2, 1.0]) and osc[6] == 1.0  # gripper clipped
    assert np.allclose(Rotation.from_rotvec(osc[3:6]).as_matrix(), rot.as_matrix(), atol=1e-9)


def test_abs_actions_replay_the_demo_to_its_final_object_pose(lift_delta_hdf5, tmp_path):
    out = tmp_path / "abs.zarr"
    before = lift_delta_hdf5.read_bytes()
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(lift_delta_hdf5), "--out", str(out),
                      "--abs-actions", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert lift_delta_hdf5.read_bytes() == before
    assert "abs actions: replayed with an absolute controller" in proc.stderr
    buf = ReplayBuffer.open(out)
    assert buf.attrs["shape_meta"]["action"] == {"shape": [10], "type": "low_dim", "rep": "pos3+rot6d+scalar:1"}
    arm = buf.attrs["env"]["kwargs"]["controller_configs"]["body_parts"]["right"]
    assert (arm["input_type"], arm["input_ref_frame"]) == ("absolute", "world")
    assert buf.attrs["source"]["abs_actions"]["replay_error_m"] < 0.01
    # Replay independently, through the env evaluation drives (10-D actions -> absolute OSC), episode by episode.
    env = make_env("robomimic", **get_env_spec("robomimic").recreate(buf.attrs["env"]), action_dim=10)
    try:
        moved = []
        for ep in range(buf.n_episodes):
            arrays = buf.get_episode(ep)
            states, actions = arrays["states"], arrays["action"]
            assert np.all(np.abs(actions[:, 9]) <= 1.0)  # the gripper command passes unchanged
            env.reset(seed=0)
            env.set_state(states[-1])
            target = env._info()["object_pos"]
            env.set_state(states[0])
            start = env._info()["object_pos"]
            env.robot.part_controllers["right"].reset_goal()
            for action in actions[:-1]:
                env.step(action)
            reached = env._info()["object_pos"]
            moved.append(np.linalg.norm(target - start))
            # the cube ends where the demo left it: within 1 cm (the target), and in fact within 2 mm
            assert np.linalg.norm(reached - target) < 0.002
        assert min(moved) > 0.01  # the demos lift the cube by more than that: the check is not trivially met
    finally:
        env.close()


def test_abs_actions_convert_a_robosuite_14_file(tmp_path):
    src, out = tmp_path / "legacy.hdf5", tmp_path / "legacy.zarr"
    _write_robomimic_file(src, n_demos=1, steps=6)
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(out), "--abs_actions",
                      "--keys", "robot0_eef_pos", "object", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    buf = ReplayBuffer.open(out)
    actions, eef = buf.get_episode(0)["action"], buf.get_episode(0)["robot0_eef_pos"]
    with h5py.File(src) as f:
        delta = f["data/demo_0/actions"][:]
    # The absolute target is the delta's world-frame step from the achieved pose (output_max 0.05 m per unit).
    assert np.allclose(actions[:, :3], eef + 0.05 * delta[:, :3], atol=2e-3)


def test_abs_actions_on_a_file_without_states_is_one_error_line(tmp_path):
    src, out = tmp_path / "synthetic.hdf5", tmp_path / "out.zarr"
    assert run_script("datasets/make_synthetic.py", "--format", "robomimic", "--out", str(src),
                      "--episodes", "2").returncode == 0
    with h5py.File(src, "a") as f:
        f["data"].attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": {}})
        for name in f["data"]:
            del f["data"][name]["states"]
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(out), "--abs-actions")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "has no 'states'" in lines[0]
    assert str(src) in lines[0]
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))
