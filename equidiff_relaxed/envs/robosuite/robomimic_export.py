"""Export a zarr replay buffer to the robomimic HDF5 layout (the reverse of :mod:`robomimic_hdf5`).

Episode i becomes ``data/demo_N``: N = ``meta/episode_source_demo`` when the buffer was converted from robomimic and
those numbers are unique (so a round trip keeps demo names), else N = i. Each demo holds ``obs/<key>`` (as stored;
images uint8 (L, H, W, C), lzf-compressed), ``actions`` (float32), ``states`` (float64, only when recorded),
``rewards`` (float64) and ``dones`` (int64); when the buffer has no rewards / dones, rewards are all 0 and dones are
0 except 1 on the episode's last step. Demo attrs: ``num_samples``, ``model_file`` (when recorded) and ``theta`` (the
task orientation, when recorded). ``data`` attrs: ``total`` and ``env_args`` (JSON, see :func:`export_env_args`):
the buffer's own ``env_args`` when it has them (robosuite datasets generated or converted here), else built from its
``env`` attrs (type 4 unless ``env`` names one: no robomimic env type, it marks an equidiff_relaxed env), plus an
``equidiff_relaxed`` block with ``shape_meta``, ``symmetry`` and ``dataset_env``, from which the converter restores
shape_meta and symmetry. ``mask/all`` lists every demo (a robomimic filter key).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from equidiff_relaxed.data.atomic import atomic_output, check_output_path
from equidiff_relaxed.data.replay_buffer import ReplayBuffer, first_nonfinite_step
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.progress import track

EXTRA_KEYS = ("states", "rewards", "dones")
EQUIDIFF_ENV_TYPE = 4


def export_env_args(buf: ReplayBuffer) -> dict[str, Any]:
    """robomimic ``env_args`` for a buffer, with this toolkit's block (shape_meta, symmetry) added.

    The buffer's own ``env_args`` are kept verbatim when present; else they are built from its ``env`` attrs with
    ``type`` 4 unless ``env`` names one (4 is no robomimic env type: it marks an equidiff_relaxed env); else
    ``{"env_name": None, "type": None, "env_kwargs": {}}``. ``env_args["equidiff_relaxed"]`` (kept if already there,
    completed otherwise) holds ``shape_meta``, ``symmetry`` and the buffer's ``env`` attrs (as ``dataset_env``).
    """
    attrs = buf.attrs
    env = attrs.get("env") if isinstance(attrs.get("env"), dict) else None
    if isinstance(attrs.get("env_args"), dict):
        env_args = json.loads(json.dumps(attrs["env_args"]))
    elif env is not None:
        env_args = {"env_name": env.get("name"), "type": env.get("type", EQUIDIFF_ENV_TYPE),
                    "env_kwargs": env.get("kwargs") or {}}
    else:
        env_args = {"env_name": None, "type": None, "env_kwargs": {}}
    ours = dict(env_args.get("equidiff_relaxed") or {})
    if buf.shape_meta is not None:
        ours.setdefault("shape_meta", buf.shape_meta.to_dict())
    if attrs.get("symmetry") is not None:
        ours.setdefault("symmetry", attrs["symmetry"])
    if env is not None:
        ours.setdefault("dataset_env", env)  # not "env": that key names a robosuite task (robosuite_env_args)
    if ours:
        env_args["equidiff_relaxed"] = ours
    return env_args


def _demo_numbers(buf: ReplayBuffer) -> list[int]:
    if "episode_source_demo" in buf.meta:
        numbers = [int(n) for n in buf.episode_meta("source_demo")]
        if len(set(numbers)) == len(numbers) and min(numbers) >= 0:
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
        if buf.n_episodes == 0:
            raise UserError("the replay buffer has no episodes", src)
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
            for i in track(range(buf.n_episodes), "exporting", "demo", enabled=progress):
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
                if "dones" in ep:
                    dones = np.asarray(ep["dones"], dtype=np.int64)
                else:
                    dones = np.zeros(n, dtype=np.int64)
                    dones[-1] = 1
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
