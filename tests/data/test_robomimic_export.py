"""zarr -> robomimic HDF5 export, and the round trip through the converter."""
import hashlib
import json

import h5py
import numpy as np
import pytest

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.envs.robosuite.robomimic_export import export_robomimic
from equidiff_relaxed.envs.robosuite.robomimic_hdf5 import convert_robomimic
from equidiff_relaxed.data.synthetic import CENTER, ROBOMIMIC_ENV_ARGS, make_push_buffer, write_robomimic_hdf5
from equidiff_relaxed.errors import UserError
from tests.conftest import run_script

LENGTHS = [4, 5, 6, 3, 7]
NUMBERS = [10, 2, 0, 3, 1]  # written out of order; the converter sorts them numerically


def tree_digest(path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def converted(tmp_path):
    src = tmp_path / "orig.hdf5"
    write_robomimic_hdf5(src, LENGTHS, NUMBERS, image_size=8)
    convert_robomimic(src, tmp_path / "conv.zarr", progress=False)
    return src, tmp_path / "conv.zarr"


def test_round_trip_keeps_every_demo(tmp_path, converted):
    src, zarr_path = converted
    before = tree_digest(zarr_path)
    out = tmp_path / "back.hdf5"
    summary = export_robomimic(zarr_path, out, progress=False)
    assert tree_digest(zarr_path) == before, "the input must not be modified"
    assert summary["episodes"] == len(LENGTHS) and summary["steps"] == sum(LENGTHS)
    with h5py.File(src) as a, h5py.File(out) as b:
        names = sorted(f"demo_{n}" for n in NUMBERS)
        assert sorted(b["data"].keys()) == sorted(a["data"].keys()) == names
        for name in a["data"]:
            da, db = a["data"][name], b["data"][name]
            assert np.array_equal(da["actions"][:].astype(np.float32), db["actions"][:])  # the zarr keeps float32
            for k in ("states", "rewards", "dones"):
                assert np.array_equal(da[k][:], db[k][:]), (name, k)
            for k in da["obs"]:
                assert np.array_equal(da["obs"][k][:], db["obs"][k][:]), (name, k)
            assert db["obs"]["agentview_image"].dtype == np.uint8
            assert db.attrs["num_samples"] == len(da["actions"])
            assert db.attrs["model_file"] == da.attrs["model_file"]
        env_args = json.loads(b["data"].attrs["env_args"])
        ours = env_args.pop("equidiff_relaxed")
        assert env_args == json.loads(a["data"].attrs["env_args"]) == ROBOMIMIC_ENV_ARGS
        assert ours["shape_meta"]["obs"]["robot0_eef_pos"]["rep"] == "pos3" and ours["symmetry"]["center"] == [0, 0]
        assert b["data"].attrs["total"] == sum(LENGTHS)
        assert sorted(n.decode() for n in b["mask/all"][:]) == sorted(f"demo_{n}" for n in NUMBERS)
    convert_robomimic(out, tmp_path / "again.zarr", progress=False)
    first, again = ReplayBuffer.open(zarr_path), ReplayBuffer.open(tmp_path / "again.zarr")
    assert first.keys == again.keys and first.shape_meta == again.shape_meta
    assert first.attrs["symmetry"] == again.attrs["symmetry"]
    for k in first.keys:
        assert np.array_equal(first.data[k][:], again.data[k][:]), k
        assert first.data[k].dtype == again.data[k].dtype, k
    for field in ("ends", "source_demo", "model_file"):
        assert np.array_equal(first.meta[f"episode_{field}"][:], again.meta[f"episode_{field}"][:]), field


def test_push_buffer_without_rewards_exports_and_restores_its_declarations(tmp_path):
    buf = make_push_buffer(3, lengths=[5, 6, 7], seed=1)
    buf.save(tmp_path / "push.zarr")
    export_robomimic(tmp_path / "push.zarr", tmp_path / "push.hdf5", progress=False)
    with h5py.File(tmp_path / "push.hdf5") as f:
        assert sorted(f["data"].keys()) == ["demo_0", "demo_1", "demo_2"]
        demo = f["data/demo_1"]
        assert np.all(demo["rewards"][:] == 0) and demo["dones"][:].tolist() == [0, 0, 0, 0, 0, 1]
        assert "states" not in demo
        assert demo.attrs["theta"] == pytest.approx(buf.episode_meta("theta")[1])
        env_args = json.loads(f["data"].attrs["env_args"])
        assert env_args["env_name"] == "synthetic-push" and env_args["type"] == 4
        ours = env_args["equidiff_relaxed"]
        assert ours["shape_meta"] == buf.shape_meta.to_dict() and ours["dataset_env"]["name"] == "synthetic-push"
        assert ours["symmetry"] == {"center": list(CENTER), "group": "SO(2)"}
    convert_robomimic(tmp_path / "push.hdf5", tmp_path / "back.zarr", progress=False)
    back = ReplayBuffer.open(tmp_path / "back.zarr")
    assert back.shape_meta == buf.shape_meta  # pos2 fields restored, not guessed from key names
    assert back.shape_meta.obs["pusher_pos"].rep == "pos2" and back.shape_meta.action.rep == "pos2"
    assert back.attrs["symmetry"]["center"] == list(CENTER)
    assert np.allclose(back.episode_meta("theta"), buf.episode_meta("theta"))


def test_nan_action_is_refused_and_nothing_is_left(tmp_path):
    buf = make_push_buffer(2, lengths=[4, 4], seed=0)
    buf.data["action"][5, 0] = np.nan
    buf.save(tmp_path / "bad.zarr")
    with pytest.raises(UserError, match=r"episode 1: action contains NaN"):
        export_robomimic(tmp_path / "bad.zarr", tmp_path / "out.hdf5", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zarr"]


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path, converted):
    _, zarr_path = converted
    bad = make_push_buffer(2, lengths=[4, 4], seed=0)
    bad.data["action"][5, 0] = np.nan
    bad.save(tmp_path / "nan.zarr")
    (tmp_path / "exists.hdf5").write_bytes(b"keep me")
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (["--zarr", str(zarr_path), "--out", str(tmp_path / "exists.hdf5")], "output exists"),
        (["--zarr", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "x.hdf5")], "missing.zarr"),
        (["--zarr", str(tmp_path / "nan.zarr"), "--out", str(tmp_path / "x.hdf5")], "episode 1: action contains NaN"),
        (["--zarr", str(zarr_path), "--out", str(tmp_path / "x.hdf5"), "--keys", "nope"], "no data/nope"),
        (["--zarr", str(zarr_path), "--out", str(tmp_path / "exists.hdf5" / "x.hdf5")], "a parent is a file"),
    ]
    for args, message in cases:
        proc = run_script("datasets/export_robomimic.py", *args, "--quiet")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == before, "no output and no temporary sibling may remain"
    assert (tmp_path / "exists.hdf5").read_bytes() == b"keep me"
    ok = run_script("datasets/export_robomimic.py", "--zarr", str(zarr_path), "--out", str(tmp_path / "exists.hdf5"),
                    "--overwrite", "--quiet")
    assert ok.returncode == 0 and f"{len(LENGTHS)} demos" in ok.stdout and "steps/s" in ok.stdout, ok.stderr
    with h5py.File(tmp_path / "exists.hdf5") as f:
        assert f["data"].attrs["total"] == sum(LENGTHS)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_api_refusals(tmp_path, converted):
    _, zarr_path = converted
    with pytest.raises(UserError, match="same as the input"):
        export_robomimic(zarr_path, zarr_path, overwrite=True, progress=False)
    no_action = ReplayBuffer.create_empty()
    no_action.add_episode({"x": np.zeros((3, 2), np.float32)})
    no_action.save(tmp_path / "noact.zarr")
    with pytest.raises(UserError, match=r"noact\.zarr: no data/action"):
        export_robomimic(tmp_path / "noact.zarr", tmp_path / "o.hdf5", progress=False)
    (tmp_path / "junk.zarr").mkdir()
    with pytest.raises(UserError, match=r"junk\.zarr"):
        export_robomimic(tmp_path / "junk.zarr", tmp_path / "o.hdf5", progress=False)
    assert not (tmp_path / "o.hdf5").exists()


def test_zip_input_and_plain_buffer_env_args(tmp_path):
    buf = ReplayBuffer.create_empty()
    buf.add_episode({"action": np.ones((3, 2), np.float32), "obs_a": np.zeros((3, 4), np.float32),
                     "rewards": np.array([0.0, 0.5, 1.0])})
    buf.save(tmp_path / "plain.zarr.zip")
    summary = export_robomimic(tmp_path / "plain.zarr.zip", tmp_path / "plain.hdf5", progress=False)
    assert summary["obs_keys"] == ["obs_a"]
    with h5py.File(tmp_path / "plain.hdf5") as f:
        assert json.loads(f["data"].attrs["env_args"]) == {"env_name": None, "type": None, "env_kwargs": {}}
        assert f["data/demo_0/rewards"][:].tolist() == [0.0, 0.5, 1.0]
        assert f["data/demo_0/dones"][:].tolist() == [0, 0, 1]
        assert [n.decode() for n in f["mask/all"][:]] == ["demo_0"]
