"""zarr -> robomimic HDF5 export, and the round trip through the converter."""
import hashlib
import json

import h5py
import numpy as np
import pytest

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.robomimic_export import export_robomimic
from equidiff_relaxed.data.robomimic_hdf5 import convert_robomimic
from equidiff_relaxed.data.synthetic import CENTER, ROBOMIMIC_ENV_ARGS, make_push_buffer, write_robomimic_hdf5
from equidiff_relaxed.errors import UserError
from tests.conftest import run_script

LENGTHS = [4, 5, 6]
NUMBERS = [10, 2, 0]


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
    assert summary["episodes"] == 3 and summary["steps"] == sum(LENGTHS)
    with h5py.File(src) as a, h5py.File(out) as b:
        assert sorted(b["data"].keys()) == sorted(a["data"].keys())
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
        assert {k: env_args[k] for k in ROBOMIMIC_ENV_ARGS} == ROBOMIMIC_ENV_ARGS
        assert "shape_meta" in env_args["equidiff_relaxed"]
        assert b["data"].attrs["total"] == sum(LENGTHS)
        assert sorted(n.decode() for n in b["mask/all"][:]) == sorted(f"demo_{n}" for n in NUMBERS)
    convert_robomimic(out, tmp_path / "again.zarr", progress=False)
    first, again = ReplayBuffer.open(zarr_path), ReplayBuffer.open(tmp_path / "again.zarr")
    assert first.keys == again.keys and first.shape_meta == again.shape_meta
    for k in first.keys:
        assert np.array_equal(first.data[k][:], again.data[k][:]), k


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
    convert_robomimic(tmp_path / "push.hdf5", tmp_path / "back.zarr", progress=False)
    back = ReplayBuffer.open(tmp_path / "back.zarr")
    assert back.shape_meta == buf.shape_meta  # pos2 fields restored, not guessed from key names
    assert back.attrs["symmetry"]["center"] == list(CENTER)
    assert np.allclose(back.episode_meta("theta"), buf.episode_meta("theta"))


def test_nan_action_is_refused_and_nothing_is_left(tmp_path):
    buf = make_push_buffer(2, lengths=[4, 4], seed=0)
    buf.data["action"][5, 0] = np.nan
    buf.save(tmp_path / "bad.zarr")
    with pytest.raises(UserError, match=r"episode 1: action contains NaN"):
        export_robomimic(tmp_path / "bad.zarr", tmp_path / "out.hdf5", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zarr"]


def test_cli_errors_are_one_line(tmp_path, converted):
    _, zarr_path = converted
    (tmp_path / "exists.hdf5").write_bytes(b"keep me")
    cases = [
        (["--zarr", str(zarr_path), "--out", str(tmp_path / "exists.hdf5")], "output exists"),
        (["--zarr", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "x.hdf5")], "missing.zarr"),
        (["--zarr", str(zarr_path), "--out", str(tmp_path / "y.hdf5"), "--keys", "nope"], "no data/nope"),
    ]
    for args, message in cases:
        proc = run_script("datasets/export_robomimic.py", *args, "--quiet")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (tmp_path / "exists.hdf5").read_bytes() == b"keep me"
    assert not (tmp_path / "x.hdf5").exists() and not (tmp_path / "y.hdf5").exists()
    ok = run_script("datasets/export_robomimic.py", "--zarr", str(zarr_path), "--out", str(tmp_path / "z.hdf5"),
                    "--quiet")
    assert ok.returncode == 0 and "3 demos" in ok.stdout
