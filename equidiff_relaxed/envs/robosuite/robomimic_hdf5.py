"""Read robomimic / MimicGen HDF5 files with h5py and convert them to the zarr replay buffer.

robomimic layout::

    data/                      attrs: env_args (JSON: env_name, type, env_kwargs), total
    data/demo_N/obs/<key>      (L, ...) per-step observations (images uint8 (L, H, W, C))
    data/demo_N/actions        (L, A)
    data/demo_N/states         (L, S) simulator states (to reset a simulator to the demo)
    data/demo_N/rewards, dones (L,)
    data/demo_N                attrs: num_samples, model_file (robosuite MJCF XML, optional)
    mask/<filter>              names of demos in a filter key, e.g. mask/train = [b"demo_0", ...]

Demos are taken in numeric order (demo_2 before demo_10). In the zarr: ``data/<obs key>``, ``data/action``,
``data/states``, ``data/rewards``, ``data/dones``; per-episode ``meta/episode_source_demo`` (N of demo_N) and
``meta/episode_model_file`` when present; root attrs ``env`` / ``env_args`` (as stored), ``symmetry``, ``source``
and an inferred ``shape_meta`` (see :func:`infer_shape_meta`).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from equidiff_relaxed.data.atomic import check_output_path
from equidiff_relaxed.data.replay_buffer import first_nonfinite_step
from equidiff_relaxed.data.writer import BufferWriter
from equidiff_relaxed.data.shape_meta import ShapeMeta, is_eye_in_hand
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.progress import track

# Representations of the standard robosuite observation keys (about the vertical axis through the table centre).
# Joint-space quantities have no planar action: they are declared invariant (scalar), i.e. symmetry-breaking inputs.
KNOWN_LOW_DIM_REPS: dict[str, str] = {
    "robot0_eef_pos": "pos3",
    "robot0_eef_quat": "quat",
    "robot0_eef_vel_lin": "vec2+scalar",
    "robot0_eef_vel_ang": "vec2+scalar",
    "robot0_gripper_qpos": "scalar",
    "robot0_gripper_qvel": "scalar",
    "robot0_joint_pos": "scalar",
    "robot0_joint_pos_cos": "scalar",
    "robot0_joint_pos_sin": "scalar",
    "robot0_joint_vel": "scalar",
}
# The 'object' observation depends on the task.
OBJECT_REPS: dict[str, str] = {
    # cube_pos, cube_quat, gripper_to_cube_pos
    "Lift": "pos3+quat+vec2+scalar:1",
    # cubeA_pos, cubeA_quat, cubeB_pos, cubeB_quat, gripper_to_cubeA, gripper_to_cubeB, cubeA_to_cubeB
    "Stack": "pos3+quat+pos3+quat+vec2+scalar:1+vec2+scalar:1+vec2+scalar:1",
}
# EquiDiff's absolute pose action: position (pos3), 6D rotation (rot6d: two rotated columns), gripper (invariant)
ABS_ACTION: dict[str, Any] = {"shape": [10], "rep": "pos3+rot6d+scalar"}
DEMO_RE = re.compile(r"^demo_(\d+)$")


def sorted_demo_names(names: Sequence[str]) -> list[str]:
    """Demo group names in numeric order (demo_2 before demo_10); other names are ignored."""
    demos = [n for n in names if DEMO_RE.match(n)]
    return sorted(demos, key=lambda n: int(DEMO_RE.match(n).group(1)))  # type: ignore[union-attr]


def _find_in(d: Any, key: str) -> Any:
    """First value stored under ``key`` anywhere in a nested dict/list (None if absent)."""
    if isinstance(d, dict):
        if key in d:
            return d[key]
        for v in d.values():
            found = _find_in(v, key)
            if found is not None:
                return found
    elif isinstance(d, list):
        for v in d:
            found = _find_in(v, key)
            if found is not None:
                return found
    return None


def actions_are_delta(env_args: dict[str, Any] | None) -> bool | None:
    """True/False when env_args says whether the controller takes delta or absolute actions; None if unknown."""
    if not env_args:
        return None
    delta = _find_in(env_args, "control_delta")  # robosuite <= 1.4
    if isinstance(delta, bool):
        return delta
    input_type = _find_in(env_args, "input_type")  # robosuite 1.5 composite controllers
    if isinstance(input_type, str):
        return input_type == "delta"
    return None


def infer_shape_meta(
    obs_shapes: dict[str, tuple[int, ...]],
    action_dim: int,
    env_args: dict[str, Any] | None,
) -> tuple[ShapeMeta, list[str]]:
    """shape_meta for robosuite-style keys, and notes on every field whose representation had to be guessed.

    ``obs_shapes`` are stored per-step shapes (images (H, W, C)).
    """
    notes: list[str] = []
    env_name = (env_args or {}).get("env_name")
    obs: dict[str, dict[str, Any]] = {}
    for key, shape in obs_shapes.items():
        if len(shape) == 3:
            h, w, c = shape
            if is_eye_in_hand(key):
                obs[key] = {"shape": [c, h, w], "type": "rgb", "rep": "camera_inhand"}
                notes.append(f"obs key {key!r}: declared 'camera_inhand' (eye-in-hand camera, an invariant input)")
                continue
            obs[key] = {"shape": [c, h, w], "type": "rgb", "rep": "camera"}
            notes.append(f"obs key {key!r}: declared 'camera' (fixed camera, an invariant input); declare rep "
                         "'image' for a top-down view centred on the symmetry centre")
            continue
        if len(shape) != 1:
            notes.append(f"obs key {key!r} with per-step shape {shape} skipped in shape_meta (not low-dim or image)")
            continue
        rep = KNOWN_LOW_DIM_REPS.get(key) or (OBJECT_REPS.get(env_name or "") if key == "object" else None)
        if rep is None:
            rep = "scalar"
            notes.append(f"obs key {key!r}: representation unknown, declared 'scalar' (invariant)")
        obs[key] = {"shape": [shape[0]], "type": "low_dim", "rep": rep}
    delta = actions_are_delta(env_args)
    if action_dim == 10:
        action_rep = ABS_ACTION["rep"]
    elif action_dim == 7 and delta is not False:
        action_rep = "vec2+scalar:1+vec2+scalar:1+scalar:1"  # OSC delta: dpos, axis-angle drot, gripper
        if delta is None:
            notes.append("action: 7-D, assumed delta OSC_POSE (dpos, axis-angle, gripper)")
    else:
        action_rep = "scalar"
        notes.append(f"action: {action_dim}-D with no known planar action, declared 'scalar' (invariant)")
    return ShapeMeta.from_dict({"obs": obs, "action": {"shape": [action_dim], "rep": action_rep}}), notes


def _open_hdf5(path: str) -> h5py.File:
    if not os.path.exists(path):
        raise UserError("no such file", path)
    try:
        return h5py.File(path, "r")
    except OSError:
        raise UserError("not a readable HDF5 file", path) from None


def _read_env_args(f: h5py.File, path: str) -> dict[str, Any] | None:
    raw = f["data"].attrs.get("env_args")
    if raw is None:
        return None
    try:
        return json.loads(raw if isinstance(raw, str) else raw.decode())
    except (ValueError, UnicodeDecodeError):
        raise UserError("data attr 'env_args' is not valid JSON", path) from None


def _select_demos(f: h5py.File, path: str, filter_key: str | None) -> list[str]:
    demos = sorted_demo_names(list(f["data"].keys()))
    if not demos:
        raise UserError("no demos under data/ (expected groups named demo_N)", path)
    if filter_key is None:
        return demos
    masks = sorted(f["mask"].keys()) if "mask" in f else []
    if filter_key not in masks:
        raise UserError(f"unknown filter key {filter_key!r} (filter keys: {', '.join(masks) or 'none'})", path)
    wanted = {n.decode() if isinstance(n, bytes) else str(n) for n in f["mask"][filter_key][:]}
    missing = sorted(wanted - set(demos))
    if missing:
        raise UserError(f"filter key {filter_key!r} names demos that do not exist: {', '.join(missing[:5])}", path)
    return [d for d in demos if d in wanted]


def convert_robomimic(
    hdf5_path: str | os.PathLike,
    out_path: str | os.PathLike,
    keys: Sequence[str] | None = None,
    filter_key: str | None = None,
    overwrite: bool = False,
    shape_meta: ShapeMeta | None = None,
    center: tuple[float, float] = (0.0, 0.0),
    progress: bool = True,
    abs_actions: bool = False,
) -> dict[str, Any]:
    """Convert a robomimic HDF5 file to a zarr replay buffer (directory, or ``.zip``) atomically.

    ``keys``: observation keys to keep (default all). ``filter_key``: only demos in ``mask/<filter_key>``.
    ``shape_meta``: declared fields (default: inferred, see :func:`infer_shape_meta`). ``abs_actions``: store
    EquiDiff's 10-D absolute pose actions (position, rot6d, gripper) computed by replaying each demo's states with
    its delta OSC controller, and check them by replay with an absolute one
    (:mod:`equidiff_relaxed.envs.robosuite.abs_actions`; needs robosuite and ``states``). Returns a summary dict with
    ``episodes``, ``steps``, ``keys``, ``notes`` and, with ``abs_actions``, ``replay_error_m`` (the largest distance
    an object ends from where its demo left it). The input file is opened read-only.
    """
    src = str(hdf5_path)
    f = _open_hdf5(src)
    with f:
        if "data" not in f:
            raise UserError("no 'data' group (not a robomimic dataset)", src)
        check_output_path(out_path, overwrite, inputs=(src,))
        env_args = _read_env_args(f, src)
        demos = _select_demos(f, src, filter_key)
        first = f["data"][demos[0]]
        if "obs" not in first or "actions" not in first:
            raise UserError(f"data/{demos[0]} has no 'obs' group or 'actions'", src)
        available = sorted(first["obs"].keys())
        obs_keys = list(keys) if keys else available
        for k in obs_keys:
            if k not in first["obs"]:
                raise UserError(f"data/{demos[0]}/obs has no key {k!r} (keys: {', '.join(available)})", src)
        obs_shapes = {k: tuple(first["obs"][k].shape[1:]) for k in obs_keys}
        action_dim = int(first["actions"].shape[1])
        notes: list[str] = []
        converter = None
        if abs_actions:
            no_states = [d for d in demos if "states" not in f["data"][d]]
            if no_states:
                raise UserError(f"--abs_actions replays simulator states, but data/{no_states[0]} has no 'states' "
                                f"({len(no_states)} of {len(demos)} demos lack them)", src)
            from equidiff_relaxed.envs.robosuite.abs_actions import AbsoluteActionConverter

            converter = AbsoluteActionConverter(env_args, src)
            env_args = converter.absolute_env_args()
            action_dim = 10
        ours = (env_args or {}).get("equidiff_relaxed") or {}  # written by export_robomimic / our generator
        if shape_meta is None and ours.get("shape_meta"):
            recorded = ShapeMeta.from_dict(ours["shape_meta"], source=src)
            kept = {k: v for k, v in recorded.obs.items() if k in obs_keys}
            shape_meta = ShapeMeta(obs=kept, action=recorded.action) if kept else None
            if shape_meta is not None and abs_actions:
                shape_meta = ShapeMeta.from_dict({"obs": {k: v.to_dict() for k, v in kept.items()},
                                                  "action": ABS_ACTION}, source=src)
        if shape_meta is None:
            shape_meta, notes = infer_shape_meta(obs_shapes, action_dim, env_args)
        symmetry = ours.get("symmetry") or {"center": [float(center[0]), float(center[1])], "group": None}
        extras = [k for k in ("states", "rewards", "dones") if k in first]

        replay_error = 0.0
        with contextlib.ExitStack() as stack, BufferWriter(out_path, overwrite=overwrite) as writer:
            if converter is not None:
                stack.callback(converter.close)
            for name in track(demos, "converting", "demo", enabled=progress):
                arrays, meta = _read_demo(f, src, name, obs_keys, obs_shapes, extras)
                if converter is not None:
                    arrays["action"] = converter.convert(arrays["states"], arrays["action"], f"data/{name}")
                    replay_error = max(replay_error, converter.replay_object_error(arrays["states"], arrays["action"]))
                writer.add(arrays, meta)
            writer.flush()
            if converter is not None:
                notes.append(f"abs actions: replayed with an absolute controller, every object ends within "
                             f"{replay_error * 1000:.1f} mm of where its demo left it (largest over {len(demos)} demos)")
            buf = writer.buffer
            assert buf is not None
            shape_meta.check_arrays(buf.step_shapes(), source=src)
            writer.set_attrs(
                shape_meta=shape_meta,
                env=None if env_args is None else {
                    "name": env_args.get("env_name"), "type": env_args.get("type"),
                    "kwargs": env_args.get("env_kwargs", {}), "source": "robomimic",
                    **({"max_steps": int(ours["max_steps"])} if ours.get("max_steps") else {}),
                },
                env_args=env_args,
                symmetry=symmetry,
                source={"converted_from": Path(src).name, "filter_key": filter_key, "tool": "convert_robomimic",
                        **({"abs_actions": {"replay_error_m": replay_error}} if abs_actions else {})},
            )
            summary = {"episodes": buf.n_episodes, "steps": buf.n_steps, "keys": buf.keys, "notes": notes}
            if abs_actions:
                summary["replay_error_m"] = replay_error
        return summary


def _read_demo(
    f: h5py.File, src: str, name: str, obs_keys: list[str], obs_shapes: dict[str, tuple[int, ...]], extras: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    demo = f["data"][name]
    if "actions" not in demo or "obs" not in demo:
        raise UserError(f"data/{name} has no 'obs' group or 'actions'", src)
    action = np.asarray(demo["actions"][:], dtype=np.float32)
    if action.ndim != 2 or len(action) == 0:
        raise UserError(f"data/{name}/actions must be a non-empty (L, A) array, got shape {action.shape}", src)
    bad = first_nonfinite_step(action)
    if bad is not None:
        raise UserError(f"data/{name}/actions contains NaN or inf (first at step {bad})", src)
    out: dict[str, np.ndarray] = {"action": action}
    for k in obs_keys:
        if k not in demo["obs"]:
            raise UserError(f"data/{name}/obs has no key {k!r}", src)
        arr = demo["obs"][k][:]
        if arr.shape[1:] != obs_shapes[k] or len(arr) != len(action):
            raise UserError(
                f"data/{name}/obs/{k} has shape {arr.shape}, expected ({len(action)}, {', '.join(map(str, obs_shapes[k]))})",
                src,
            )
        out[k] = arr
    for k in extras:
        if k not in demo:
            raise UserError(f"data/{name} has no {k!r} although other demos do", src)
        arr = demo[k][:]
        if len(arr) != len(action):
            raise UserError(f"data/{name}/{k} has {len(arr)} steps but actions has {len(action)}", src)
        out[k] = arr
    meta: dict[str, Any] = {"source_demo": int(DEMO_RE.match(name).group(1))}  # type: ignore[union-attr]
    if "theta" in demo.attrs:  # task orientation, written by export_robomimic
        meta["theta"] = float(demo.attrs["theta"])
    model = demo.attrs.get("model_file")
    if model is not None:
        meta["model_file"] = model if isinstance(model, str) else model.decode()
    return out, meta
