"""The policy folder: a trained policy as two files users can pass around, loaded without Lightning or pickle.

- ``config.json``: ``format_version``, ``family``, ``group`` ({"name": "C8" | "D8", "axis"}), ``policy`` (every
  :class:`~equidiff_relaxed.policy.config.PolicyConfig` option), ``shape_meta``, ``symmetry`` ({"center",
  "reflection_axis"}), ``normalizer`` ({key: {"scale": [...], "offset": [...]}}, environment units -> network
  units), ``env`` (how to recreate the env, when known) and ``dataset`` (the training data's path, when known).
- ``model.safetensors``: the network's parameters (the EMA copy when the policy came from a training checkpoint);
  no normalizer, no buffers (escnn's bases and caches are rebuilt from the config), no code.

:func:`save_pretrained` writes the folder atomically (a temporary sibling renamed into place); :func:`load_pretrained`
checks everything a user can get wrong and raises :class:`~equidiff_relaxed.errors.UserError` with one line naming
the folder or file: missing files, a newer ``format_version``, unknown family or group, weights that do not fit.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from equidiff_relaxed.data.atomic import atomic_output
from equidiff_relaxed.data.normalizer import FieldNormalizer
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.policy.checkpoint import load_checkpoint, policy_from_checkpoint
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.policy.families import get_family
from equidiff_relaxed.symmetry.group import SymmetryGroup

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def is_policy_folder(path: str | os.PathLike) -> bool:
    """A folder (policy folders are folders; Lightning checkpoints are files)."""
    return Path(path).is_dir()


def policy_config_dict(policy: DiffusionPolicy, env: dict[str, Any] | None = None,
                       dataset: str | None = None) -> dict[str, Any]:
    """The ``config.json`` content of ``policy`` (plain JSON values)."""
    normalizer = {key: {"scale": field.scale.tolist(), "offset": field.offset.tolist()}
                  for key, field in policy.normalizer.fields.items()}
    return {
        "format_version": FORMAT_VERSION,
        "family": policy.model_family,
        "group": policy.group.to_dict(),
        "policy": policy.config.to_dict(),
        "shape_meta": policy.meta.to_dict(),
        "symmetry": {"center": list(policy.symmetry_center), "reflection_axis": policy.reflection_axis},
        "normalizer": normalizer,
        "env": env,
        "dataset": dataset,
    }


def save_pretrained(policy: DiffusionPolicy, directory: str | os.PathLike, env: dict[str, Any] | None = None,
                    dataset: str | None = None, overwrite: bool = True) -> Path:
    """Write ``policy`` (its current weights) as a policy folder at ``directory``; ``env`` (the dataset's env
    attrs) and ``dataset`` (its path) let evaluation recreate the env and the data map. Returns the path."""
    if not policy.normalizer.fields:
        raise ValueError("the policy's normalizer is not fitted; fit it (or train) before saving")
    weights = {k: v.detach().cpu().contiguous() for k, v in policy.named_parameters()}
    config = policy_config_dict(policy, env, dataset)
    with atomic_output(directory, overwrite=overwrite) as tmp:
        tmp.mkdir()
        save_file(weights, str(tmp / WEIGHTS_NAME), metadata={"format_version": str(FORMAT_VERSION)})
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        for f in (tmp / WEIGHTS_NAME, tmp / CONFIG_NAME):
            f.chmod(0o644)  # a file to pass around, whatever the temporary file's mode was
    return Path(directory)


def checkpoint_to_folder(checkpoint: str | os.PathLike, directory: str | os.PathLike) -> Path:
    """Write the policy of a Lightning checkpoint (its EMA weights when present) as a policy folder, with the env
    and dataset the checkpoint records."""
    ckpt = load_checkpoint(checkpoint)
    env = ckpt["hyper_parameters"].get("env")
    dataset = (ckpt.get("datamodule_hyper_parameters") or {}).get("dataset_path")
    policy = policy_from_checkpoint(ckpt, checkpoint)
    return save_pretrained(policy, directory, env, str(dataset) if dataset else None)


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` of a policy folder, checked for the format version and the keys the loader needs."""
    folder = Path(directory)
    if not folder.is_dir():
        raise UserError("no such policy folder", folder)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise UserError(f"not a policy folder (no {CONFIG_NAME}; a Lightning .ckpt or a policy folder is expected)", folder)
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"not valid JSON ({err})", path) from None
    if not isinstance(config, dict):
        raise UserError("expected a JSON object", path)
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError("no integer format_version", path)
    if version > FORMAT_VERSION:
        raise UserError(f"format_version {version} is newer than this equidiff-relaxed reads ({FORMAT_VERSION}); "
                        "upgrade equidiff-relaxed", path)
    missing = [k for k in ("family", "group", "policy", "shape_meta", "symmetry", "normalizer") if k not in config]
    if missing:
        raise UserError(f"missing key(s): {', '.join(missing)}", path)
    return config


def load_pretrained(directory: str | os.PathLike, device: str | torch.device = "cpu") -> DiffusionPolicy:
    """The policy of a folder written by :func:`save_pretrained`, in eval mode (no Lightning, no pickle)."""
    return load_pretrained_with_config(directory, device)[0]


def load_pretrained_with_config(directory: str | os.PathLike,
                                device: str | torch.device = "cpu") -> tuple[DiffusionPolicy, dict[str, Any]]:
    """:func:`load_pretrained` and the folder's checked ``config.json`` (read once)."""
    folder = Path(directory)
    config = read_config(folder)
    path = folder / CONFIG_NAME
    try:
        get_family(config["family"])
        group = SymmetryGroup.parse(config["group"]["name"], config["group"].get("axis", 0.0))
        options = PolicyConfig.from_dict(config["policy"], recorded=True)
        meta = ShapeMeta.from_dict(config["shape_meta"], source=str(path))
    except (ValueError, TypeError, KeyError) as err:
        raise UserError(str(err).strip("'\""), path) from None
    if options.model != config["family"]:
        raise UserError(f"family {config['family']!r} differs from policy.model {options.model!r}", path)
    symmetry = config["symmetry"]
    center = symmetry.get("center", [0.0, 0.0])
    axis = float(symmetry.get("reflection_axis", 0.0))
    policy = DiffusionPolicy(meta, options, symmetry_center=center, reflection_axis=axis)
    if policy.group != group:
        raise UserError(f"group {group.name} does not match family {options.model!r} with group_order "
                        f"{options.group_order} ({policy.group.name})", path)
    _load_normalizer(policy, config["normalizer"], path)
    weights_path = folder / WEIGHTS_NAME
    if not weights_path.is_file():
        raise UserError(f"policy folder has no {WEIGHTS_NAME}", folder)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"not a readable safetensors file ({str(err).splitlines()[0][:120]})", weights_path) from None
    params = dict(policy.named_parameters())
    missing = [k for k in params if k not in state]
    unexpected = [k for k in state if k not in params]
    wrong = [k for k in params if k in state and state[k].shape != params[k].shape]
    if wrong:
        raise UserError(f"weights do not fit the model: {wrong[0]} has shape {tuple(state[wrong[0]].shape)}, "
                        f"the model {tuple(params[wrong[0]].shape)}", weights_path)
    if missing or unexpected:
        raise UserError(f"weights do not fit the model ({len(missing)} missing, {len(unexpected)} unexpected, "
                        f"e.g. {(missing + unexpected)[0]})", weights_path)
    policy.load_state_dict(state, strict=False)  # buffers (escnn bases, caches) are rebuilt from the config
    return policy.to(device).eval(), config


def _load_normalizer(policy: DiffusionPolicy, entries: Any, path: Path) -> None:
    """Fill the policy's normalizer from config.json (every low-dim key and the action must be there)."""
    if not isinstance(entries, dict):
        raise UserError("normalizer must be an object {key: {scale, offset}}", path)
    for key in [*policy.net_meta.low_dim_keys, "action"]:  # the fed causes of the break included
        entry = entries.get(key)
        if not isinstance(entry, dict) or "scale" not in entry or "offset" not in entry:
            raise UserError(f"normalizer has no scale/offset for {key!r}", path)
        scale = torch.tensor(entry["scale"], dtype=torch.float32)
        offset = torch.tensor(entry["offset"], dtype=torch.float32)
        if scale.ndim != 1 or scale.shape != offset.shape:
            raise UserError(f"normalizer {key!r}: scale and offset must be lists of one length", path)
        if not all(math.isfinite(v) for v in [*entry["scale"], *entry["offset"]]):
            raise UserError(f"normalizer {key!r} contains NaN or inf", path)
        field = FieldNormalizer(scale.shape[0])
        field.scale.copy_(scale)
        field.offset.copy_(offset)
        policy.normalizer.fields[key] = field


__all__ = ["FORMAT_VERSION", "save_pretrained", "load_pretrained", "load_pretrained_with_config", "read_config",
           "is_policy_folder", "checkpoint_to_folder"]
