"""robomimic interchange with robosuite: generated Lift demos -> robomimic HDF5 -> zarr; the stored states replay
in a robosuite env built from the file's env_args (skipped without the [robosuite] extra)."""
import json

import h5py
import numpy as np
import pytest

pytest.importorskip("robosuite")

from equidiff_relaxed.data.replay_buffer import ReplayBuffer  # noqa: E402
from equidiff_relaxed.envs.robosuite.robomimic_export import export_robomimic  # noqa: E402
from equidiff_relaxed.envs.robosuite.robomimic_hdf5 import convert_robomimic  # noqa: E402
from equidiff_relaxed.demos.generate import GenerateConfig, generate  # noqa: E402
from equidiff_relaxed.envs.robosuite.env_args import env_from_env_args, robosuite_env_from_env_args  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    generate(GenerateConfig("stack", episodes=2, seed=0), root / "stack.zarr", progress=False)
    export_robomimic(root / "stack.zarr", root / "stack.hdf5", progress=False)
    convert_robomimic(root / "stack.hdf5", root / "back.zarr", progress=False)
    return root


def test_converted_states_replay_to_the_stored_object_poses(files):
    with h5py.File(files / "stack.hdf5") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
    assert env_args["env_name"] == "Stack" and env_args["type"] == 1
    env = robosuite_env_from_env_args(env_args)
    try:
        buf = ReplayBuffer.open(files / "back.zarr")
        cubes = [env.sim.model.body_name2id(n) for n in ("cubeA_main", "cubeB_main")]
        for e in range(buf.n_episodes):
            ep = buf.get_episode(e, ["states", "object"])
            for t in range(0, len(ep["states"]), 5):
                env.sim.set_state_from_flattened(ep["states"][t])
                env.sim.forward()
                for i, body in enumerate(cubes):
                    pos = env.sim.data.body_xpos[body]
                    assert np.allclose(pos, ep["object"][t, 7 * i : 7 * i + 3], atol=1e-5), (e, t, i)
    finally:
        env.close()


def test_our_adapter_comes_back_from_env_args(files):
    with h5py.File(files / "stack.hdf5") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        theta = float(f["data/demo_1"].attrs["theta"])
        states = f["data/demo_1/states"][:]
        first_obs = f["data/demo_1/obs/object"][0]
    env = env_from_env_args(env_args)
    try:
        assert env.task == "stack" and env.action_mode == "abs"
        env.reset(seed=0, options={"theta": theta})
        env.set_state(states[0])
        assert np.allclose(env.object_poses()[:, :3].ravel(), first_obs[[0, 1, 2, 7, 8, 9]], atol=1e-5)
    finally:
        env.close()


def test_foreign_env_args_are_refused_clearly():
    with pytest.raises(UserError, match="not describe a robosuite env"):
        robosuite_env_from_env_args({"env_name": "push", "type": 4, "env_kwargs": {}})
    with pytest.raises(UserError, match="no equidiff_relaxed task settings"):
        env_from_env_args({"env_name": "Lift", "type": 1, "env_kwargs": {}})
