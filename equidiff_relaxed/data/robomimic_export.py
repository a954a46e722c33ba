"""Export a zarr replay buffer to the robomimic HDF5 layout (the reverse of :mod:`robomimic_hdf5`).

Episode i becomes ``data/demo_N`` (N = ``meta/episode_source_demo`` when the buffer was converted from robomimic, so a
round trip keeps demo names; else N = i) with ``obs/<key>``, ``actions``, ``states`` (when recorded), ``rewards`` and
``dones`` (when not recorded: zeros, and ``dones`` = 1 on each episode's last step), attrs ``num_samples``,
``model_file`` (when recorded) and ``theta`` (the task orientation, when recorded). ``data`` attrs: ``total`` and
``env_args`` (JSON): the buffer's own ``env_args`` when it has them (robosuite datasets generated or converted here),
else ``{"env_name", "type": 4 (not a robomimic env type: an equidiff_relaxed env), "env_kwargs"}`` from its ``env``
attrs. Either way ``env_args["equidiff_relaxed"]`` carries ``shape_meta`` and ``symmetry``, which the converter
restores. ``mask/all`` lists every demo (a robomimic filter key).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from equidiff_relaxed.data.atomic import atomic_output, check_output_path
from equidiff_relaxed.data.replay_buffer import ReplayBuffer, first_nonfinite_step
from equidiff_relaxed.errors import UserError

EXTRA_KEYS = ("states", "rewards", "dones")
EQUIDIFF_ENV_TYPE = 4


def export_env_args(buf: ReplayBuffer) -> dict[str, Any]:
    """robomimic ``env_args`` for a buffer, with this toolkit's block (shape_meta, symmetry) added."""
    attrs = buf.attrs
    if isinstance(attrs.get("env_args"), dict):
        env_args = json.loads(json.dumps(attrs["env_args"]))
    else:
        env = attrs.get("env") or {}
        env_args = {"env_name": env.get("name"), "type": EQUIDIFF_ENV_TYPE if env else None,
                    "env_kwargs": env.get("kwargs") or {}}
    ours = dict(env_args.get("equidiff_relaxed") or {})
    if buf.shape_meta is not None:
        ours.setdefault("shape_meta", buf.shape_meta.to_dict())
    if attrs.get("symmetry") is not None:
        ours.setdefault("symmetry", attrs["symmetry"])
    if attrs.get("env") is not None:
        ours.setdefault("dataset_env", attrs["env"])
    env_args["equidiff_relaxed"] = ours
    return env_args


def _demo_numbers(buf: ReplayBuffer) -> list[int]:
    if "episode_source_demo" in buf.meta:
        numbers = [int(n) for n in buf.episode_meta("source_demo")]
        if len(set(numbers)) == len(numbers):
            return numbers
    return list(range(buf.n_episodes))


def _optional_meta(buf: ReplayBuffer, name: str) -> np.ndarray | None:
    return buf.episode_meta(name) if f"episode_{name}" in buf.meta else None


def export_robomimic(zarr_path: str | os.PathLike, hdf5_path: str | os.PathLike, overwrite: bool = False,
                     obs_keys: Sequence[str] | None = None, progress: bool = True) -> dict[str, Any]:
    """Write ``zarr_path`` as a robomimic HDF5 file at ``hdf5_path`` atomically; the input is opened read-only.

    ``obs_keys``: observation keys to write (default: those declared in shape_meta, else every data key other than
    action/states/rewards/dones). Returns {episodes, steps, obs_keys}.
    """
    src = str(zarr_path)
    with ReplayBuffer.open(src) as buf:
        check_output_path(hdf5_path, overwrite, inputs=(src,))
        if "action" not in buf.keys:
            raise UserError("no data/action array (not a demonstration dataset)", src)
        if obs_keys is None:
            declared = list(buf.shape_meta.obs) if buf.shape_meta is not None else []
            obs_keys = declared or [k for k in buf.keys if k != "action" and k not in EXTRA_KEYS]
        missing = [k for k in obs_keys if k not in buf.keys]
        if missing:
            raise UserError(f"no data/{missing[0]} (keys: {', '.join(buf.keys)})", src)
        extras = [k for k in EXTRA_KEYS if k in buf.keys]
        numbers = _demo_numbers(buf)
        models, thetas = _optional_meta(buf, "model_file"), _optional_meta(buf, "theta")
        env_args = export_env_args(buf)
        with atomic_output(hdf5_path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
            data = f.create_group("data")
            for i in tqdm(range(buf.n_episodes), desc="exporting", unit="demo", disable=not progress):
                ep = buf.get_episode(i, keys=[*obs_keys, "action", *extras])
                action = np.asarray(ep["action"], dtype=np.float32)
                bad = first_nonfinite_step(action)
                if bad is not None:
                    raise UserError(f"episode {i}: action contains NaN or inf (first at step {bad})", src)
                demo = data.create_group(f"demo_{numbers[i]}")
                obs = demo.create_group("obs")
                for k in obs_keys:
                    arr = np.asarray(ep[k])
                    obs.create_dataset(k, data=arr, compression="lzf" if arr.dtype == np.uint8 else None)
                demo.create_dataset("actions", data=action)
                n = len(action)
                rewards = np.asarray(ep["rewards"], dtype=np.float64) if "rewards" in ep else np.zeros(n)
                dones = np.asarray(ep["dones"], dtype=np.int64) if "dones" in ep else np.eye(1, n, n - 1,
                                                                                             dtype=np.int64)[0]
                demo.create_dataset("rewards", data=rewards)
                demo.create_dataset("dones", data=dones)
                if "states" in ep:
                    demo.create_dataset("states", data=np.asarray(ep["states"], dtype=np.float64))
                demo.attrs["num_samples"] = n
                if models is not None:
                    demo.attrs["model_file"] = str(models[i])
                if thetas is not None:
                    demo.attrs["theta"] = float(thetas[i])
            data.attrs["total"] = int(buf.n_steps)
            data.attrs["env_args"] = json.dumps(env_args)
            names = [f"demo_{n}" for n in numbers]
            f.create_group("mask").create_dataset("all", data=np.array(names, dtype="S"))
        return {"episodes": buf.n_episodes, "steps": buf.n_steps, "obs_keys": list(obs_keys)}
