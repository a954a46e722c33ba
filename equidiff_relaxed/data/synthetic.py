"""Tiny synthetic datasets made in code: for tests, examples and ``make demo`` (no simulator needed).

Episodes imitate a planar push: a pusher moves in straight steps toward a puck placed at orientation theta about the
symmetry centre. The numbers mean nothing physically; the layout and the declared symmetry are the real thing.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import h5py
import numpy as np

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.shape_meta import ShapeMeta

CENTER = (0.5, -0.25)  # deliberately not the origin, so code that ignores the centre fails tests


def push_shape_meta(image_size: int | None = None) -> ShapeMeta:
    obs: dict[str, Any] = {
        "pusher_pos": {"shape": [2], "type": "low_dim", "rep": "pos2"},
        "puck_pos": {"shape": [2], "type": "low_dim", "rep": "pos2"},
    }
    if image_size:
        obs["image"] = {"shape": [3, image_size, image_size], "type": "rgb", "rep": "image"}
    return ShapeMeta.from_dict({"obs": obs, "action": {"shape": [2], "rep": "pos2"}})


def push_episode(rng: np.random.Generator, length: int, image_size: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One synthetic episode: arrays of ``length`` steps and its per-episode meta (theta, seed-free)."""
    theta = float(rng.uniform(0, 2 * math.pi))
    c = np.asarray(CENTER)
    puck = c + 0.3 * np.array([math.cos(theta), math.sin(theta)])
    start = c + rng.normal(scale=0.05, size=2)
    alpha = np.linspace(0.0, 1.0, length + 1)[:, None]
    path = (1 - alpha) * start + alpha * puck + rng.normal(scale=0.002, size=(length + 1, 2))
    data = {
        "pusher_pos": path[:-1].astype(np.float32),
        "puck_pos": np.repeat(puck[None], length, axis=0).astype(np.float32),
        "action": path[1:].astype(np.float32),
    }
    if image_size:
        img = np.zeros((length, image_size, image_size, 3), dtype=np.uint8)
        for t in range(length):
            px = ((data["pusher_pos"][t] - c) * image_size / 1.0 + image_size / 2).astype(int)
            col, row = np.clip(px[0], 0, image_size - 1), np.clip(image_size - 1 - px[1], 0, image_size - 1)
            img[t, row, col] = 255
        data["image"] = img
    return data, {"theta": theta}


def make_push_buffer(
    n_episodes: int = 6,
    lengths: Sequence[int] | None = None,
    seed: int = 0,
    image_size: int | None = None,
) -> ReplayBuffer:
    """An in-memory replay buffer of synthetic push episodes with shape_meta and symmetry attrs."""
    rng = np.random.default_rng(seed)
    lengths = list(lengths) if lengths is not None else list(rng.integers(8, 20, size=n_episodes))
    buf = ReplayBuffer.create_empty()
    for n in lengths:
        data, meta = push_episode(rng, int(n), image_size)
        buf.add_episode(data, meta)
    buf.set_attrs(
        shape_meta=push_shape_meta(image_size),
        env={"name": "synthetic-push", "variant": "push", "kwargs": {}},
        symmetry={"center": list(CENTER), "group": "SO(2)"},
        source={"generator": "equidiff_relaxed.data.synthetic", "seed": seed},
    )
    return buf


ROBOMIMIC_ENV_ARGS = {
    "env_name": "Lift",
    "type": 1,
    "env_kwargs": {"robots": ["Panda"], "controller_configs": {"type": "OSC_POSE", "control_delta": True}},
}


def write_robomimic_hdf5(
    path: str | os.PathLike,
    lengths: Sequence[int],
    demo_numbers: Sequence[int] | None = None,
    image_size: int | None = None,
    masks: dict[str, Sequence[int]] | None = None,
    env_args: dict[str, Any] | None = ROBOMIMIC_ENV_ARGS,
    seed: int = 0,
) -> None:
    """Write a small file in the real robomimic layout (see :mod:`equidiff_relaxed.envs.robosuite.robomimic_hdf5`).

    Demo ``demo_numbers[i]`` has ``lengths[i]`` steps; its actions are filled with ``demo number + step / 1000`` in
    every dimension, so a reader's ordering can be checked from the values. ``masks`` maps a filter key to demo numbers.
    """
    rng = np.random.default_rng(seed)
    numbers = list(demo_numbers) if demo_numbers is not None else list(range(len(lengths)))
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        total = 0
        for num, n in zip(numbers, lengths):
            g = data.create_group(f"demo_{num}")
            g.attrs["num_samples"] = n
            g.attrs["model_file"] = f"<mujoco model='demo_{num}'/>"
            act = np.full((n, 7), num, dtype=np.float64) + (np.arange(n) / 1000.0)[:, None]
            g.create_dataset("actions", data=act)
            g.create_dataset("states", data=rng.normal(size=(n, 9)))
            g.create_dataset("rewards", data=np.zeros(n))
            g.create_dataset("dones", data=(np.arange(n) == n - 1).astype(np.int64))
            obs = g.create_group("obs")
            obs.create_dataset("robot0_eef_pos", data=rng.normal(size=(n, 3)))
            obs.create_dataset("robot0_eef_quat", data=np.tile([0.0, 0.0, 0.0, 1.0], (n, 1)))
            obs.create_dataset("robot0_gripper_qpos", data=rng.normal(size=(n, 2)))
            obs.create_dataset("object", data=rng.normal(size=(n, 10)))
            if image_size:
                obs.create_dataset("agentview_image",
                                   data=rng.integers(0, 256, size=(n, image_size, image_size, 3), dtype=np.uint8))
            total += n
        data.attrs["total"] = total
        if env_args is not None:
            data.attrs["env_args"] = json.dumps(env_args)
        for key, nums in (masks or {}).items():
            f.create_dataset(f"mask/{key}", data=np.array([f"demo_{i}".encode() for i in nums]))
