"""LightningDataModule over a zarr replay buffer: shape_meta, episode split, sequence windows, data loaders.

A batch is ``{"obs": {key: (B, To, D) float32 or (B, To, C, H, W) float32 in [0, 1]}, "action": (B, T, A) float32}``
in environment units (normalisation happens inside the model, see :mod:`equidiff_relaxed.data.normalizer`).
"""
from __future__ import annotations

from typing import Any, Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from equidiff_relaxed.data.replay_buffer import ReplayBuffer, first_nonfinite_step
from equidiff_relaxed.data.sampler import PAD_AFTER, SequenceSampler, create_windows, pad_after_steps
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.data.split import split_episodes
from equidiff_relaxed.data.windows import window_to_tensors
from equidiff_relaxed.errors import UserError


class EpochSeededSampler(Sampler[int]):
    """Shuffles with a permutation that depends only on (seed, epoch): a run resumed at an epoch boundary sees the
    same data order as one that never stopped. Lightning calls ``set_epoch`` at every epoch."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


class SequenceDataset(Dataset):
    """Torch dataset of windows; images become (To, C, H, W) float32 in [0, 1], everything else float32.

    With ``arrays=None`` the buffer at ``path`` is opened lazily in each process on first use (safe with workers,
    including for ``.zarr.zip`` files, whose handles must not be shared across processes).
    """

    def __init__(self, path: str, shape_meta: ShapeMeta, episode_ends: np.ndarray, episodes: np.ndarray,
                 horizon: int, n_obs_steps: int, n_action_steps: int, arrays: dict[str, Any] | None = None,
                 pad_after: str = "full"):
        self.path = path
        self.shape_meta = shape_meta
        self.obs_keys = list(shape_meta.obs)
        self._arrays = arrays
        self._sampler_args = dict(episode_ends=episode_ends, horizon=horizon, n_obs_steps=n_obs_steps,
                                  n_action_steps=n_action_steps, obs_keys=self.obs_keys, episodes=episodes,
                                  source=path, pad_after=pad_after)
        self._sampler: SequenceSampler | None = None
        after = pad_after_steps(pad_after, horizon, n_obs_steps, n_action_steps)
        self._n = len(create_windows(episode_ends, horizon, n_obs_steps - 1, after, episodes))

    def _get_sampler(self) -> SequenceSampler:
        if self._sampler is None:
            arrays = self._arrays
            if arrays is None:
                buf = ReplayBuffer.open(self.path, in_memory=False)
                arrays = {k: buf.data[k] for k in [*self.obs_keys, "action"]}
            self._sampler = SequenceSampler(arrays, **self._sampler_args)  # type: ignore[arg-type]
        return self._sampler

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> dict[str, Any]:
        raw = self._get_sampler().sample(i)
        return {"obs": window_to_tensors(raw, self.shape_meta), "action": torch.from_numpy(raw["action"]).float()}


def select_obs(meta: ShapeMeta, keys: list[str] | None, reps: dict[str, str] | None, path: str) -> ShapeMeta:
    """``meta`` with only ``keys`` kept (None: all) and the representations in ``reps`` replaced."""
    if not keys and not reps:
        return meta
    d = meta.to_dict()
    known = ", ".join(d["obs"])
    for k in [*(keys or []), *(reps or {})]:
        if k not in d["obs"]:
            raise UserError(f"data.obs_keys / data.obs_reps name {k!r}, which the dataset does not have "
                            f"(obs keys: {known})", path)
    if keys:
        d["obs"] = {k: d["obs"][k] for k in keys}
    for k, rep in (reps or {}).items():
        if k in d["obs"]:
            d["obs"][k] = {**d["obs"][k], "rep": rep}
    return ShapeMeta.from_dict(d, source=path)


class DemoDataModule(L.LightningDataModule):
    """Episodes from one replay buffer, split by episode, served as training windows.

    Args:
        dataset_path: ``.zarr`` directory or ``.zarr.zip``.
        horizon, n_obs_steps, n_action_steps: T, To, Ta of the sampler.
        shape_meta: declared fields; default: the buffer's ``shape_meta`` attr (needed for plain diffusion_policy
            zarr files, which carry none). Only keys listed under ``obs`` are read.
        obs_keys: keep only these observation keys of shape_meta (default: all); each must exist.
        obs_reps: key -> representation replacing shape_meta's for that key, e.g. ``{agentview_image: image}`` to
            encode a camera equivariantly, as EquiDiff does (checked like any declaration).
        val_ratio, seed, n_demos: see :func:`equidiff_relaxed.data.split.split_episodes`.
        in_memory: copy the needed arrays into RAM (fast); otherwise read windows from disk on demand.
        pad_after: ``"full"`` (default: every state is some window's current observation; padded actions hold the
            last one) or ``"diffusion_policy"`` (windows end Ta-1 steps past the episode); see
            :mod:`equidiff_relaxed.data.sampler`.
        shuffle_seed: seeds the training data order (default: ``seed``). ``seed`` alone fixes the episode split, so
            a sweep keeps one split and nested subsets while each run seed gets its own data order.
    """

    def __init__(
        self,
        dataset_path: str,
        horizon: int = 16,
        n_obs_steps: int = 2,
        n_action_steps: int = 8,
        shape_meta: dict[str, Any] | None = None,
        obs_keys: list[str] | None = None,
        obs_reps: dict[str, str] | None = None,
        val_ratio: float = 0.1,
        seed: int = 0,
        n_demos: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        persistent_workers: bool = False,
        pin_memory: bool = False,
        in_memory: bool = True,
        pad_after: str = "full",
        shuffle_seed: int | None = None,
    ):
        super().__init__()
        if pad_after not in PAD_AFTER:
            raise UserError(f"unknown data.pad_after {pad_after!r} (known: {', '.join(PAD_AFTER)})")
        self.save_hyperparameters()
        self.dataset_path = str(dataset_path)
        self.horizon, self.n_obs_steps, self.n_action_steps = horizon, n_obs_steps, n_action_steps
        self._shape_meta_cfg = shape_meta
        self.obs_keys, self.obs_reps = obs_keys, obs_reps
        self.val_ratio, self.seed, self.n_demos = val_ratio, seed, n_demos
        self.batch_size, self.num_workers = batch_size, num_workers
        self.persistent_workers, self.pin_memory, self.in_memory = persistent_workers, pin_memory, in_memory
        self.pad_after = pad_after
        self._pad_after_steps = pad_after_steps(pad_after, horizon, n_obs_steps, n_action_steps)
        self.shuffle_seed = seed if shuffle_seed is None else shuffle_seed
        self.shape_meta: ShapeMeta | None = None
        self.train_episodes = self.val_episodes = np.zeros(0, dtype=np.int64)
        self.symmetry_center: tuple[float, float] = (0.0, 0.0)
        self.reflection_axis = 0.0  # angle of the reflection axis through the centre (symmetry attrs), for D_N
        self.env_attrs: dict[str, Any] | None = None  # the env recorded with the data (name, kwargs)
        self._arrays: dict[str, Any] | None = None
        self.train_set: SequenceDataset | None = None
        self.val_set: SequenceDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        path = self.dataset_path
        # check_chunks: a deleted or truncated chunk file is refused here, naming it, instead of reading as zeros
        with ReplayBuffer.open(path, in_memory=False, check_chunks=True) as buf:
            if self._shape_meta_cfg is not None:
                meta = ShapeMeta.from_dict(self._shape_meta_cfg, source="shape_meta in the config")
            elif buf.shape_meta is not None:
                meta = buf.shape_meta
            else:
                raise UserError("the dataset records no shape_meta; give shape_meta in the config", path)
            meta = select_obs(meta, self.obs_keys, self.obs_reps, path)
            meta.check_arrays(buf.step_shapes(), source=path)
            low_dim = buf.load_arrays([*meta.low_dim_keys, "action"])
            for k, v in low_dim.items():
                step = first_nonfinite_step(v)
                if step is not None:
                    raise UserError(f"data/{k} contains NaN or inf (first at step {step})", path)
            arrays = {**low_dim, **buf.load_arrays(meta.rgb_keys)} if self.in_memory else None
            ends = buf.episode_ends
            symmetry = buf.attrs.get("symmetry") or {}
            center = symmetry.get("center") or (0.0, 0.0)
            axis = symmetry.get("reflection_axis", 0.0)
            if not isinstance(axis, (int, float)) or isinstance(axis, bool) or not np.isfinite(axis):
                raise UserError(f"symmetry.reflection_axis must be a finite angle in radians, got {axis!r}", path)
            self.env_attrs = buf.attrs.get("env")
        self.shape_meta = meta
        self.symmetry_center = (float(center[0]), float(center[1]))
        self.reflection_axis = float(axis)
        self.train_episodes, self.val_episodes = split_episodes(len(ends), self.val_ratio, self.seed, self.n_demos,
                                                                source=path)
        self._arrays = arrays
        self._low_dim = low_dim
        self._ends = ends
        common = dict(path=path, shape_meta=meta, episode_ends=ends, horizon=self.horizon,
                      n_obs_steps=self.n_obs_steps, n_action_steps=self.n_action_steps, arrays=self._arrays,
                      pad_after=self.pad_after)
        self.train_set = SequenceDataset(episodes=self.train_episodes, **common)  # type: ignore[arg-type]
        self.val_set = SequenceDataset(episodes=self.val_episodes, **common)  # type: ignore[arg-type]
        if len(self.train_set) == 0:
            raise UserError(
                f"no training windows: every training episode is shorter than horizon - pad_before - pad_after = "
                f"{self.horizon - (self.n_obs_steps - 1) - self._pad_after_steps} steps", path
            )

    def normalizer_data(self) -> dict[str, np.ndarray]:
        """Low-dim observations and actions of the training episodes only, key -> (N, D), for fitting."""
        if self.train_set is None:
            self.setup()
        starts = np.concatenate([[0], self._ends[:-1]])
        idx = np.concatenate([np.arange(starts[i], self._ends[i]) for i in self.train_episodes])
        return {k: np.asarray(v[idx], dtype=np.float32) for k, v in self._low_dim.items()}

    def normalizer_episode_ends(self) -> np.ndarray:
        """(E,) int64 cumulative ends of the training episodes as :meth:`normalizer_data` concatenates them."""
        if self.train_set is None:
            self.setup()
        starts = np.concatenate([[0], self._ends[:-1]])
        return np.cumsum([self._ends[i] - starts[i] for i in self.train_episodes]).astype(np.int64)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochSeededSampler(len(dataset), self.shuffle_seed) if shuffle else None,
            num_workers=self.num_workers,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            pin_memory=self.pin_memory,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup() first"
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "call setup() first"
        return self._loader(self.val_set, shuffle=False)
