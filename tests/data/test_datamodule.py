import numpy as np
import pytest
import torch
import zarr

from equidiff_relaxed.train.datamodule import DemoDataModule
from equidiff_relaxed.errors import UserError


@pytest.fixture
def saved(tmp_path, push_buffer):
    return {name: str(push_buffer.save(tmp_path / name)) for name in ("p.zarr", "p.zarr.zip")}


def test_batches_shapes_and_image_scaling(saved):
    dm = DemoDataModule(saved["p.zarr"], horizon=4, n_obs_steps=2, n_action_steps=2, batch_size=5, val_ratio=0.2)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["action"].shape == (5, 4, 2) and batch["action"].dtype == torch.float32
    assert batch["obs"]["pusher_pos"].shape == (5, 2, 2)
    img = batch["obs"]["image"]
    assert img.shape == (5, 2, 3, 8, 8) and img.dtype == torch.float32 and 0 <= img.min() and img.max() <= 1
    assert len(dm.val_episodes) == 1 and len(dm.train_episodes) == 5
    assert dm.symmetry_center == (0.5, -0.25)
    data = dm.normalizer_data()
    steps = sum(dm._ends[i] - (dm._ends[i - 1] if i else 0) for i in dm.train_episodes)
    assert data["action"].shape == (steps, 2) and "image" not in data


@pytest.mark.parametrize("in_memory, workers", [(True, 0), (False, 0), (False, 2)])
def test_lazy_and_in_memory_agree(saved, in_memory, workers):
    ref = DemoDataModule(saved["p.zarr"], horizon=4, n_obs_steps=2, n_action_steps=2, batch_size=100)
    ref.setup()
    dm = DemoDataModule(saved["p.zarr.zip"], horizon=4, n_obs_steps=2, n_action_steps=2, batch_size=100,
                        in_memory=in_memory, num_workers=workers, persistent_workers=workers > 0)
    dm.setup()
    a, b = next(iter(ref.val_dataloader())), next(iter(dm.val_dataloader()))
    assert torch.equal(a["action"], b["action"]) and torch.equal(a["obs"]["image"], b["obs"]["image"])


def test_n_demos_caps_training_episodes(saved):
    dm = DemoDataModule(saved["p.zarr"], n_demos=2, horizon=4, n_obs_steps=2, n_action_steps=2, val_ratio=0.2)
    dm.setup()
    assert len(dm.train_episodes) == 2
    windows = dm.train_set._get_sampler().windows
    starts = {int(s) for s in windows[:, 0]}
    assert len(starts) <= 2


def test_plain_zarr_needs_shape_meta_in_config(tmp_path):
    path = tmp_path / "dp.zarr"
    root = zarr.open_group(str(path), mode="w")
    root.create_dataset("data/action", data=np.zeros((12, 2), np.float32))
    root.create_dataset("data/state", data=np.zeros((12, 5), np.float32))
    root.create_dataset("meta/episode_ends", data=np.array([6, 12], np.int64))
    with pytest.raises(UserError, match="records no shape_meta"):
        DemoDataModule(str(path), horizon=4, n_obs_steps=2, n_action_steps=2).setup()
    meta = {"obs": {"state": {"shape": [5], "rep": "scalar"}}, "action": {"shape": [2], "rep": "vec2"}}
    dm = DemoDataModule(str(path), horizon=4, n_obs_steps=2, n_action_steps=2, shape_meta=meta)
    dm.setup()
    assert next(iter(dm.train_dataloader()))["obs"]["state"].shape[-1] == 5
    bad = {"obs": {"state": {"shape": [4], "rep": "scalar"}}, "action": {"shape": [2], "rep": "vec2"}}
    with pytest.raises(UserError, match=r"'state' is stored with per-step shape \(5,\)"):
        DemoDataModule(str(path), shape_meta=bad).setup()


def test_nan_in_actions_is_reported(tmp_path, push_buffer):
    push_buffer.data["action"][7, 0] = np.inf
    path = push_buffer.save(tmp_path / "nan.zarr")
    with pytest.raises(UserError, match=r"data/action contains NaN or inf \(first at step 7\)"):
        DemoDataModule(str(path)).setup()


def test_episodes_too_short_for_any_window(saved):
    """Only with the diffusion_policy padding: with the default every state is some window's "now"."""
    with pytest.raises(UserError, match="no training windows"):
        DemoDataModule(saved["p.zarr"], horizon=40, n_obs_steps=2, n_action_steps=8,
                       pad_after="diffusion_policy").setup()
    dm = DemoDataModule(saved["p.zarr"], horizon=40, n_obs_steps=2, n_action_steps=8)
    dm.setup()
    assert len(dm.train_set) == sum(int(n) for n in np.diff(np.concatenate([[0], dm._ends]))[dm.train_episodes])


def test_shuffle_seed_changes_data_order_but_not_the_split(saved):
    a = DemoDataModule(saved["p.zarr"], horizon=8, n_obs_steps=2, n_action_steps=4, seed=0, shuffle_seed=0)
    b = DemoDataModule(saved["p.zarr"], horizon=8, n_obs_steps=2, n_action_steps=4, seed=0, shuffle_seed=1)
    a.setup()
    b.setup()
    assert a.train_episodes.tolist() == b.train_episodes.tolist()
    order_a, order_b = list(iter(a.train_dataloader().sampler)), list(iter(b.train_dataloader().sampler))
    assert sorted(order_a) == sorted(order_b) and order_a != order_b


def test_unknown_pad_after_in_the_datamodule(saved):
    with pytest.raises(UserError, match="unknown data.pad_after"):
        DemoDataModule(saved["p.zarr"], pad_after="tail")
