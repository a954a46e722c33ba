import hashlib
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

from equidiff_relaxed.data.atomic import atomic_output
from equidiff_relaxed.data.replay_buffer import LOW_DIM_CHUNK_BYTES, ReplayBuffer, default_time_chunk
from equidiff_relaxed.errors import UserError


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(path.parent)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", ["buf.zarr", "buf.zarr.zip"])
@pytest.mark.parametrize("in_memory", [False, True])
def test_round_trip(tmp_path, push_buffer, name, in_memory):
    out = push_buffer.save(tmp_path / name)
    with ReplayBuffer.open(out, in_memory=in_memory) as back:
        assert back.n_episodes == 6 and back.n_steps == 56
        assert np.array_equal(back.episode_ends, [5, 14, 26, 29, 49, 56])
        assert back.episode_ends.dtype == np.int64
        assert back.keys == push_buffer.keys
        for k in push_buffer.keys:
            assert np.array_equal(back.data[k][:], push_buffer.data[k][:])
            assert back.data[k].dtype == push_buffer.data[k].dtype
        assert back.data["image"].dtype == np.uint8 and back.data["image"].shape[1:] == (8, 8, 3)
        assert np.allclose(back.episode_meta("theta"), push_buffer.episode_meta("theta"))
        assert back.shape_meta == push_buffer.shape_meta
        assert back.attrs["symmetry"]["center"] == [0.5, -0.25]
        ep = back.get_episode(2)
        assert ep["action"].shape == (12, 2)
        assert np.array_equal(ep["action"], push_buffer.data["action"][14:26])


def test_chunks_along_time_and_compression(push_buffer):
    act, img = push_buffer.data["action"], push_buffer.data["image"]
    assert act.chunks[1:] == (2,) and img.chunks[1:] == (8, 8, 3)
    assert img.chunks[0] == 16
    assert isinstance(act.compressor, numcodecs.Blosc)
    assert act.chunks[0] == LOW_DIM_CHUNK_BYTES // 8 == default_time_chunk((2,), np.float32)
    assert default_time_chunk((88, 88, 3), np.uint8) == 16


def test_append_incrementally_on_disk(tmp_path):
    path = tmp_path / "grow.zarr"
    buf = ReplayBuffer.create_empty(path)
    rng = np.random.default_rng(0)
    for n in (4, 6):
        buf.add_episode({"action": rng.normal(size=(n, 2)).astype(np.float32)}, {"seed": n})
    reopened = ReplayBuffer.open(path, mode="a")
    reopened.add_episode({"action": np.zeros((3, 2), np.float32)}, {"seed": 3})
    final = ReplayBuffer.open(path)
    assert np.array_equal(final.episode_ends, [4, 10, 13])
    assert final.episode_meta("seed").tolist() == [4, 6, 3]
    with pytest.raises(ValueError, match="differ"):
        reopened.add_episode({"other": np.zeros((3, 2))}, {"seed": 1})
    with pytest.raises(ValueError, match="per-step shape"):
        reopened.add_episode({"action": np.zeros((3, 5))}, {"seed": 1})


def test_batch_append_equals_one_by_one(push_buffer):
    episodes = [(push_buffer.get_episode(i), {"theta": float(push_buffer.episode_meta("theta")[i])})
                for i in range(push_buffer.n_episodes)]
    batched = ReplayBuffer.create_empty()
    batched.add_episodes(episodes[:2])
    batched.add_episodes(episodes[2:])
    assert np.array_equal(batched.episode_ends, push_buffer.episode_ends)
    for k in push_buffer.keys:
        assert np.array_equal(batched.data[k][:], push_buffer.data[k][:])
    assert np.array_equal(batched.episode_meta("theta"), push_buffer.episode_meta("theta"))
    with pytest.raises(ValueError, match="share a length"):
        batched.add_episodes([({"action": np.zeros((3, 2)), "image": np.zeros((2, 8, 8, 3)),
                                "puck_pos": np.zeros((3, 2)), "pusher_pos": np.zeros((3, 2))}, {"theta": 0.0})])
    assert batched.n_episodes == push_buffer.n_episodes


def test_opens_plain_diffusion_policy_zarr(tmp_path):
    """A zarr written the way diffusion_policy does, with none of our attrs."""
    path = tmp_path / "dp.zarr"
    root = zarr.open_group(str(path), mode="w")
    root.create_dataset("data/action", data=np.arange(20, dtype=np.float32).reshape(10, 2))
    root.create_dataset("data/img", data=np.zeros((10, 4, 4, 3), np.uint8))
    root.create_dataset("meta/episode_ends", data=np.array([4, 10], dtype=np.int64))
    buf = ReplayBuffer.open(path)
    assert buf.shape_meta is None and buf.n_episodes == 2
    assert np.array_equal(buf.get_episode(1)["action"][0], [8, 9])


def test_open_never_writes(tmp_path, push_buffer):
    for name in ("a.zarr", "a.zarr.zip"):
        out = push_buffer.save(tmp_path / name)
        before = tree_digest(out)
        for mem in (False, True):
            with ReplayBuffer.open(out, in_memory=mem) as b:
                b.get_episode(0)
        assert tree_digest(out) == before


def write_raw(path: Path, ends, n_steps: int = 10, with_ends: bool = True) -> Path:
    root = zarr.open_group(str(path), mode="w")
    root.create_dataset("data/action", data=np.zeros((n_steps, 2), np.float32))
    root.create_group("meta")
    if with_ends:
        root.create_dataset("meta/episode_ends", data=np.asarray(ends, dtype=np.int64))
    return path


@pytest.mark.parametrize("ends, n_steps, message", [
    (None, 10, "missing meta/episode_ends"),
    ([5, 3, 10], 10, "not strictly increasing"),
    ([0, 10], 10, "not strictly increasing"),
    ([4, 8], 10, "data/action has 10 steps but meta/episode_ends ends at 8"),
])
def test_bad_episode_ends(tmp_path, ends, n_steps, message):
    path = write_raw(tmp_path / "bad.zarr", ends, n_steps, with_ends=ends is not None)
    with pytest.raises(UserError, match=message) as err:
        ReplayBuffer.open(path)
    assert str(path) in str(err.value)


def test_missing_key_lists_existing(push_buffer):
    with pytest.raises(UserError, match=r"no key 'velocity' in data \(keys: action, image, puck_pos, pusher_pos\)"):
        push_buffer.get_episode(0, ["velocity"])


def test_not_a_buffer(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(UserError, match="not a zarr replay buffer"):
        ReplayBuffer.open(tmp_path / "empty.zarr")
    bad_zip = tmp_path / "corrupt.zarr.zip"
    bad_zip.write_bytes(b"this is not a zip file")
    with pytest.raises(UserError, match="corrupt or truncated zip"):
        ReplayBuffer.open(bad_zip)
    with pytest.raises(UserError, match="no such file"):
        ReplayBuffer.open(tmp_path / "missing.zarr")


@pytest.mark.parametrize("damage, where", [
    (lambda p: (p / "meta/episode_ends/.zarray").write_text("{not json"), "metadata"),
    (lambda p: (p / "meta/episode_ends/0").write_bytes(b"garbage"), "metadata"),
    (lambda p: (p / ".zattrs").write_text("{bad"), "metadata"),
    (lambda p: (p / "data/action/0.0").write_bytes(b"garbage"), "data/action"),
])
def test_corrupt_store_is_one_clear_error(tmp_path, push_buffer, damage, where):
    path = push_buffer.save(tmp_path / "c.zarr")
    damage(path)
    with pytest.raises(UserError, match=f"corrupt or unreadable zarr data in .*{where}") as err:
        ReplayBuffer.open(path).load_arrays(["action"])
    assert str(path) in str(err.value)


def test_save_refuses_existing_and_replaces_with_overwrite(tmp_path, push_buffer):
    out = push_buffer.save(tmp_path / "x.zarr")
    with pytest.raises(UserError, match="output exists"):
        push_buffer.save(out)
    small = ReplayBuffer.create_empty()
    small.add_episode({"action": np.ones((2, 2), np.float32)})
    small.save(out, overwrite=True)
    assert ReplayBuffer.open(out).n_steps == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr"]


def test_interrupted_write_leaves_nothing(tmp_path):
    final = tmp_path / "out.zarr"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(final) as tmp:
            tmp.mkdir()
            (tmp / "partial").write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    # an existing output survives a failed overwrite untouched
    final.mkdir()
    (final / "keep").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(final, overwrite=True) as tmp:
            tmp.mkdir()
            raise RuntimeError("boom")
    assert (final / "keep").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_missing_parent_folders_are_made_and_removed_again_on_failure(tmp_path):
    final = tmp_path / "a" / "b" / "out.zarr"
    with pytest.raises(RuntimeError):
        with atomic_output(final) as tmp:
            tmp.mkdir()
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == [], "the folders made for a failed write are removed"
    small = ReplayBuffer.create_empty()
    small.add_episode({"action": np.ones((2, 2), np.float32)})
    small.save(final)
    assert ReplayBuffer.open(final).n_steps == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="a parent is a file"):
        small.save(tmp_path / "file" / "out.zarr")
