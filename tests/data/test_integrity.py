"""Damaged chunk files (deleted, truncated, garbled) are found and named, and the check never writes."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from equidiff_relaxed.train.datamodule import DemoDataModule
from equidiff_relaxed.data.integrity import verify_chunks
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.synthetic import CENTER, push_episode, push_shape_meta
from equidiff_relaxed.errors import UserError, run_cli
from tests.conftest import script_main

LENGTHS = (5, 9, 12, 3, 20, 7)  # 56 steps: data/action has 8-step chunks 0.0 ... 6.0
N_CHUNKS = 7 * 3 + 4 + 1 + 1  # three low-dim arrays, image (16 frames a chunk), episode_ends, episode_theta
DM_ARGS = dict(horizon=4, n_obs_steps=2, n_action_steps=2, batch_size=4)


def digest(path: Path) -> str:
    """Names, sizes and bytes of every file under ``path`` (or of the file itself)."""
    h = hashlib.sha256()
    for p in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(p.relative_to(path.parent)).encode() + p.read_bytes())
    return h.hexdigest()


def describe_cli(*args: str) -> int:
    """datasets/describe.py run in-process exactly as its __main__ does (through run_cli)."""
    main = script_main("datasets/describe.py")
    return run_cli(main, list(args))


@pytest.fixture
def saved(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer.create_empty()
    buf.add_episodes([push_episode(rng, n, image_size=8) for n in LENGTHS],
                     chunks={"action": 8, "pusher_pos": 8, "puck_pos": 8})
    buf.set_attrs(shape_meta=push_shape_meta(8), symmetry={"center": list(CENTER), "group": "SO(2)"})
    return buf.save(tmp_path / "d.zarr")


@pytest.mark.parametrize("name", ["d.zarr", "d.zarr.zip"])
def test_intact_dataset_verifies_and_opens(saved, name, capsys):
    path = saved if name == "d.zarr" else ReplayBuffer.open(saved).save(saved.with_name(name))
    before = digest(path)
    with ReplayBuffer.open(path) as buf:
        for decode in (False, True):
            report = verify_chunks(buf, decode=decode)
            assert report.ok and (report.n_chunks, report.n_arrays) == (N_CHUNKS, 6), report.problems
    dm = DemoDataModule(str(path), **DM_ARGS)
    dm.setup()
    assert next(iter(dm.train_dataloader()))["action"].shape == (4, 4, 2)
    assert describe_cli(str(path), "--verify") == 0
    out = capsys.readouterr()
    assert out.out.rstrip().endswith(f"verify: ok ({N_CHUNKS} chunks in 6 arrays)") and not out.err
    assert digest(path) == before


def test_missing_chunk_is_named_everywhere(saved, capsys):
    (saved / "data/action/3.0").unlink()
    with ReplayBuffer.open(saved) as buf:  # without the check it reads as the fill value, silently
        assert not buf.data["action"][24:32].any()
    before = digest(saved)
    with ReplayBuffer.open(saved, validate=False) as buf:
        for decode in (False, True):
            assert verify_chunks(buf, decode=decode).problems == ["data/action: chunk 3.0 missing"]
    with pytest.raises(UserError) as err:
        DemoDataModule(str(saved), **DM_ARGS).setup()
    assert str(err.value) == f"{saved}: data/action: chunk 3.0 missing"
    assert describe_cli(str(saved), "--verify") == 2
    out = capsys.readouterr()
    assert out.err.splitlines() == [f"error: {saved}: data/action: chunk 3.0 missing"] and not out.out
    assert digest(saved) == before


@pytest.mark.parametrize("chunk, keep, found_by", [
    ("data/action/2.0", 40, "stored"),        # Blosc: fewer bytes than its header records
    ("data/image/1.0.0.0", 10, "stored"),     # shorter than a Blosc header
    ("meta/episode_ends/0", 100, "stored"),   # uncompressed: fewer bytes than one chunk
    ("data/image/2.0.0.0", None, "decode"),   # same length, header intact, payload garbled
])
def test_truncated_or_garbled_chunk_is_detected(saved, chunk, keep, found_by, capsys):
    file = saved / chunk
    raw = file.read_bytes()
    file.write_bytes(raw[:keep] if keep is not None else raw[:16] + bytes(255 - b for b in raw[16:]))
    array, chunk_id = chunk.rsplit("/", 1)
    before = digest(saved)
    with ReplayBuffer.open(saved, validate=False) as buf:
        stored, decoded = verify_chunks(buf), verify_chunks(buf, decode=True)
    assert len(decoded.problems) == 1
    assert decoded.problems[0].startswith(f"{array}: chunk {chunk_id} truncated or corrupt (")
    assert stored.problems == (decoded.problems if found_by == "stored" else [])
    if found_by == "stored":
        with pytest.raises(UserError, match=f"{array}: chunk {chunk_id} truncated or corrupt"):
            DemoDataModule(str(saved), **DM_ARGS).setup()
    assert describe_cli(str(saved), "--verify") == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {saved}: {decoded.problems[0]}"]
    assert digest(saved) == before


def test_every_problem_is_listed_and_zip_stores_are_checked(saved, capsys):
    (saved / "data/action/3.0").unlink()
    (saved / "data/pusher_pos/0.0").write_bytes(b"")
    expected = ["data/action: chunk 3.0 missing", "data/pusher_pos: chunk 0.0 truncated or corrupt (empty file)"]
    zipped = ReplayBuffer.open(saved, validate=False).save(saved.with_name("d.zarr.zip"))  # copies the damage
    for path in (saved, zipped):
        with ReplayBuffer.open(path, validate=False) as buf:
            assert verify_chunks(buf).problems == expected
        with pytest.raises(UserError, match=r"chunk 3.0 missing \(and 1 more; list them with .*--verify\)"):
            DemoDataModule(str(path), **DM_ARGS).setup()
        assert describe_cli(str(path), "--verify") == 2
        assert capsys.readouterr().err.splitlines() == [f"error: {path}: {p}" for p in expected]


@pytest.mark.parametrize("damage, expected", [
    (lambda root: __import__("shutil").rmtree(root / "data/action"),
     "shape_meta declares 'action' but the data has no such key (keys: image, puck_pos, pusher_pos)"),
    (lambda root: __import__("shutil").rmtree(root / "data/puck_pos"),
     "shape_meta declares 'puck_pos' but the data has no such key (keys: action, image, pusher_pos)"),
])
def test_verify_checks_every_declared_key(saved, damage, expected, capsys):
    damage(saved)
    before = digest(saved)
    assert describe_cli(str(saved), "--verify") == 2
    out = capsys.readouterr()
    assert out.err.splitlines() == [f"error: {saved}: {expected}"] and not out.out
    assert digest(saved) == before


def test_verify_checks_declared_shapes_and_episode_ends(saved, capsys):
    import zarr

    root = zarr.open_group(str(saved), mode="a")
    meta = dict(root.attrs["shape_meta"])
    meta["obs"] = {**meta["obs"], "image": {**meta["obs"]["image"], "shape": [3, 16, 16]}}
    root.attrs["shape_meta"] = meta
    assert describe_cli(str(saved), "--verify") == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {saved}: 'image' is stored with per-step shape (8, 8, 3) but shape_meta declares (16, 16, 3) (H, W, C)"]
    root["meta/episode_ends"][-1] = 50  # the last episode ends before the arrays do
    assert describe_cli(str(saved), "--verify") == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "'image' is stored" in err[0], err  # every problem is listed, one line each
    assert err[1] == f"error: {saved}: data/action has 56 steps but meta/episode_ends ends at 50; the file is inconsistent"


def test_truncated_zip_is_named_as_such(saved, capsys):
    zipped = ReplayBuffer.open(saved).save(saved.with_name("d.zarr.zip"))
    zipped.write_bytes(zipped.read_bytes()[:3000])
    before = digest(zipped)
    assert describe_cli(str(zipped)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {zipped}: corrupt or truncated zip"), err
    with pytest.raises(UserError, match="corrupt or truncated zip"):
        DemoDataModule(str(zipped), **DM_ARGS).setup()
    assert digest(zipped) == before
