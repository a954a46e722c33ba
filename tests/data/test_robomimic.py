import hashlib

import h5py
import numpy as np
import pytest

from equidiff_relaxed.data import writer
from equidiff_relaxed.envs.robosuite import robomimic_hdf5
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.envs.robosuite.robomimic_hdf5 import convert_robomimic, infer_shape_meta, sorted_demo_names
from equidiff_relaxed.data.synthetic import ROBOMIMIC_ENV_ARGS, write_robomimic_hdf5
from equidiff_relaxed.errors import UserError

LENGTHS = [4, 5, 6, 7, 8]
NUMBERS = [10, 2, 0, 1, 3]  # written out of order on purpose


@pytest.fixture
def hdf5(tmp_path):
    path = tmp_path / "demos.hdf5"
    write_robomimic_hdf5(path, LENGTHS, NUMBERS, image_size=8, masks={"train": [10, 0, 3], "valid": [1, 2]})
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_numeric_demo_order():
    assert sorted_demo_names(["demo_10", "demo_2", "demo_1", "mask", "demo_0"]) == ["demo_0", "demo_1", "demo_2", "demo_10"]


@pytest.mark.parametrize("name", ["out.zarr", "out.zarr.zip"])
def test_convert_all(tmp_path, hdf5, name):
    before = digest(hdf5)
    summary = convert_robomimic(hdf5, tmp_path / name, progress=False)
    assert digest(hdf5) == before, "the input must not be modified"
    buf = ReplayBuffer.open(tmp_path / name)
    assert summary["episodes"] == 5 and buf.n_steps == sum(LENGTHS)
    length_of = dict(zip(NUMBERS, LENGTHS))
    assert buf.episode_meta("source_demo").tolist() == [0, 1, 2, 3, 10]
    assert buf.episode_lengths.tolist() == [length_of[n] for n in (0, 1, 2, 3, 10)]
    # actions hold "demo number + step/1000": demo_10 comes last
    last = buf.get_episode(4)["action"]
    assert np.allclose(last[:, 0], 10 + np.arange(length_of[10]) / 1000)
    assert buf.data["agentview_image"].dtype == np.uint8 and buf.data["agentview_image"].shape[1:] == (8, 8, 3)
    with h5py.File(hdf5) as f:
        assert np.array_equal(buf.get_episode(1)["states"], f["data/demo_1/states"][:])
        assert np.array_equal(buf.get_episode(4)["robot0_eef_pos"], f["data/demo_10/obs/robot0_eef_pos"][:])
    assert buf.episode_meta("model_file")[4] == "<mujoco model='demo_10'/>"
    assert buf.attrs["env_args"] == ROBOMIMIC_ENV_ARGS
    assert buf.attrs["env"]["name"] == "Lift" and buf.attrs["env"]["kwargs"] == ROBOMIMIC_ENV_ARGS["env_kwargs"]
    meta = buf.shape_meta
    assert meta.obs["robot0_eef_pos"].rep == "pos3" and meta.obs["robot0_eef_quat"].rep == "quat"
    assert meta.obs["agentview_image"].shape == (3, 8, 8) and meta.obs["agentview_image"].type == "rgb"
    assert meta.obs["object"].rep == "pos3+quat+vec2+scalar:1"
    assert [f.rep for f in meta.action.fields] == ["vec2", "scalar", "vec2", "scalar", "scalar"]


def test_batched_flushes_give_the_same_buffer(tmp_path, hdf5, monkeypatch):
    convert_robomimic(hdf5, tmp_path / "one.zarr", progress=False)
    monkeypatch.setattr(writer, "FLUSH_BYTES", 1)  # flush after every demo
    convert_robomimic(hdf5, tmp_path / "many.zarr", progress=False)
    a, b = ReplayBuffer.open(tmp_path / "one.zarr"), ReplayBuffer.open(tmp_path / "many.zarr")
    assert np.array_equal(a.episode_ends, b.episode_ends)
    assert all(np.array_equal(a.data[k][:], b.data[k][:]) for k in a.keys)


def test_filter_key_and_keys(tmp_path, hdf5):
    convert_robomimic(hdf5, tmp_path / "t.zarr", keys=["robot0_eef_pos"], filter_key="train", progress=False)
    buf = ReplayBuffer.open(tmp_path / "t.zarr")
    assert buf.episode_meta("source_demo").tolist() == [0, 3, 10]
    assert buf.keys == ["action", "dones", "rewards", "robot0_eef_pos", "states"]
    assert list(buf.shape_meta.obs) == ["robot0_eef_pos"]
    assert buf.attrs["source"]["filter_key"] == "train"


def test_inferred_action_reps():
    meta, notes = infer_shape_meta({"foo": (3,)}, 10, None)
    assert meta.action.rep == "pos3+rot6d+scalar:1"
    assert meta.obs["foo"].rep == "scalar:3" and any("'foo'" in n for n in notes)
    absolute = {"env_name": "Lift", "env_kwargs": {"controller_configs": {"control_delta": False}}}
    meta, notes = infer_shape_meta({"robot0_eef_pos": (3,)}, 7, absolute)
    assert meta.action.rep == "scalar:7" and any("action" in n for n in notes)
    v15 = {"env_kwargs": {"controller_configs": {"body_parts": {"right": {"input_type": "delta"}}}}}
    meta, _ = infer_shape_meta({"robot0_eef_pos": (3,)}, 7, v15)
    assert meta.action.fields[0].rep == "vec2"


def test_bad_inputs(tmp_path, hdf5):
    out = tmp_path / "o.zarr"
    with pytest.raises(UserError, match=r"unknown filter key 'test' \(filter keys: train, valid\)"):
        convert_robomimic(hdf5, out, filter_key="test", progress=False)
    with pytest.raises(UserError, match=r"has no key 'robot0_joint_pos' \(keys: agentview_image, object"):
        convert_robomimic(hdf5, out, keys=["robot0_joint_pos"], progress=False)
    with pytest.raises(UserError, match="same as the input"):
        convert_robomimic(hdf5, hdf5, overwrite=True, progress=False)
    out.mkdir()
    with pytest.raises(UserError, match="output exists; pass --overwrite"):
        convert_robomimic(hdf5, out, progress=False)
    assert not any(out.iterdir())

    empty = tmp_path / "empty.hdf5"
    with h5py.File(empty, "w") as f:
        f.create_group("data")
    with pytest.raises(UserError, match="no demos under data/"):
        convert_robomimic(empty, tmp_path / "e.zarr", progress=False)

    text = tmp_path / "notes.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(UserError, match="not a readable HDF5 file"):
        convert_robomimic(text, tmp_path / "t.zarr", progress=False)


def test_nan_actions_named_and_nothing_written(tmp_path):
    path = tmp_path / "nan.hdf5"
    write_robomimic_hdf5(path, [4, 4, 4])
    with h5py.File(path, "a") as f:
        f["data/demo_2/actions"][2, 1] = np.nan
    with pytest.raises(UserError, match=r"data/demo_2/actions contains NaN or inf \(first at step 2\)"):
        convert_robomimic(path, tmp_path / "nan.zarr", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.hdf5"]


def test_interrupted_conversion_leaves_nothing(tmp_path, hdf5, monkeypatch):
    real = robomimic_hdf5._read_demo
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(robomimic_hdf5, "_read_demo", flaky)
    for name in ("i.zarr", "i.zarr.zip"):
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):
            convert_robomimic(hdf5, tmp_path / name, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.hdf5"]
