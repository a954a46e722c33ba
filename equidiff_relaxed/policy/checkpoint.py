"""Checkpoints: safe loading (weights_only), the policy (EMA) weights, and fine-tuning with a key-by-key report.

The one reader of Lightning ``.ckpt`` files, and a leaf: it rebuilds the :class:`DiffusionPolicy` from the stored
hyperparameters (the :class:`PolicyConfig` fields, shape_meta, symmetry centre and reflection axis) without Lightning
or the training module, so loading a checkpoint for evaluation needs neither.

An exactly equivariant checkpoint initialises a relaxed model: every relaxed bank gets the equivariant layer's
weights and w_l(h) = 1/L, so the relaxed model starts with identical outputs (see group_linear).
"""
from __future__ import annotations

import os
import pickle
import re
from typing import Any

import torch

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.nn.group_linear import expand_equivariant_state
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy


# Hyperparameters added after checkpoints were first written: a checkpoint without them was trained (and evaluated)
# with these values, which are not today's defaults.
LEGACY_HPARAMS = {"prediction_type": "epsilon", "ddim_spacing": "leading"}


TORCH_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save's zip archive, or the legacy pickle it wrote before torch 1.6


def read_checkpoint(path: str | os.PathLike, require: tuple[str, ...] = ("state_dict", "global_step")) -> dict:
    """The one reader of Lightning checkpoints: ``torch.load(weights_only=True)`` (no code runs), checked to be a
    dict with the ``require``-d entries. UserError naming the file for a missing, corrupt, unsafe or foreign one:
    ``no such checkpoint``, ``not a torch checkpoint`` (a file torch.save did not write, or a damaged one),
    ``refused: it holds Python objects`` (weights_only loading refuses to run their code), ``not an
    equidiff-relaxed Lightning checkpoint``."""
    if not os.path.exists(path):
        raise UserError("no such checkpoint", path)
    if os.path.isdir(path):
        raise UserError("not a checkpoint or policy folder (a policy folder holds config.json and "
                        "model.safetensors)", path)
    with open(path, "rb") as f:
        head = f.read(4)
    if not head.startswith(TORCH_MAGIC):
        raise UserError("not a torch checkpoint (a Lightning .ckpt or a policy folder is expected)", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        detail = str(e).splitlines()[0] if str(e) else ""
        if "Weights only load failed" in str(e):
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
            raise UserError("refused: it holds Python objects that safe loading (weights_only) does not run"
                            + (f" ({found.group(1)})" if found else ""), path) from None
        raise UserError(f"not a torch checkpoint ({detail[:120]})", path) from None
    except Exception as e:  # noqa: BLE001 - torch raises many types for corrupt or truncated files
        detail = (str(e).splitlines()[0] if str(e) else type(e).__name__).split(". ")[0]
        raise UserError(f"not a torch checkpoint: corrupt or truncated ({detail[:120]})", path) from None
    missing = [k for k in require if not isinstance(state, dict) or k not in state]
    if missing:
        raise UserError(f"not an equidiff-relaxed Lightning checkpoint (no {' / '.join(missing)})", path)
    return state


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint with weights and hyperparameters (:func:`read_checkpoint`:
    weights_only, one-line errors for missing, corrupt or foreign files)."""
    return read_checkpoint(path, require=("state_dict", "hyper_parameters"))


def policy_state(ckpt: dict, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The policy's weights from a checkpoint: the EMA copy when present and asked for."""
    ema = (ckpt.get("callbacks") or {}).get("EMA", {}).get("shadow")
    if use_ema and ema:
        return dict(ema)
    return {k[len("policy."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("policy.")}


def load_policy(path: str | os.PathLike, use_ema: bool = True) -> DiffusionPolicy:
    """Rebuild the policy from a checkpoint's hyperparameters and load its (EMA) weights; returned in eval mode."""
    return policy_from_checkpoint(load_checkpoint(path), path, use_ema)


def policy_from_checkpoint(ckpt: dict, path: str | os.PathLike, use_ema: bool = True) -> DiffusionPolicy:
    """:func:`load_policy` for a checkpoint already read with :func:`load_checkpoint` (``path`` names it in
    errors), so callers that also need its other entries read the file once."""
    policy = policy_from_hparams(ckpt["hyper_parameters"], path)
    missing, unexpected = policy.load_state_dict(policy_state(ckpt, use_ema), strict=False)
    if unexpected or [k for k in missing if not k.startswith("normalizer.")]:
        raise UserError(f"checkpoint weights do not fit the model ({len(missing)} missing, {len(unexpected)} unexpected)",
                        path)
    return policy.eval()


def policy_from_hparams(hparams: dict, path: str | os.PathLike) -> DiffusionPolicy:
    """A fresh :class:`DiffusionPolicy` built as a checkpoint's hyperparameters say: its :class:`PolicyConfig`
    fields (:data:`LEGACY_HPARAMS` for options it predates), shape_meta, symmetry centre and reflection axis. The
    training-only entries (lr, warm-up, seed, env) are not needed."""
    hp = {**LEGACY_HPARAMS, **{k: v for k, v in hparams.items() if not k.startswith("_")}}
    if not hp.get("shape_meta"):
        raise UserError("checkpoint records no shape_meta", path)
    try:
        config = PolicyConfig.from_dict({k: v for k, v in hp.items() if k in PolicyConfig.names()}, recorded=True)
        meta = ShapeMeta.from_dict(hp["shape_meta"], source=str(path))
        return DiffusionPolicy(meta, config, symmetry_center=hp.get("symmetry_center") or [0.0, 0.0],
                               reflection_axis=hp.get("reflection_axis") or 0.0)
    except ValueError as err:
        raise UserError(f"bad model config: {err}", path) from None


def init_policy_from(policy: DiffusionPolicy, path: str | os.PathLike, use_ema: bool = True) -> list[str]:
    """Load matching weights into ``policy``; return one line per key that was missing, unexpected or reshaped."""
    state = expand_equivariant_state(policy_state(load_checkpoint(path), use_ema), policy)
    own = policy.state_dict()
    report, usable = [], {}
    for key, value in state.items():
        if key not in own:
            report.append(f"unexpected in checkpoint (ignored): {key}")
        elif own[key].shape != value.shape:
            report.append(f"shape mismatch (kept fresh): {key} checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}")
        else:
            usable[key] = value
    report += [f"missing in checkpoint (kept fresh): {k}" for k in own if k not in state]
    policy.load_state_dict(usable, strict=False)
    return report


def init_module_from(module: Any, datamodule: Any, path: str | os.PathLike) -> list[str]:
    """Build ``module``'s policy for ``datamodule``'s data (shape_meta, symmetry centre, fitted normalizer) and load
    the (EMA) weights of checkpoint ``path`` into it, before ``trainer.fit``; returns ``init_policy_from``'s report."""
    datamodule.setup("fit")
    policy = module.build(datamodule.shape_meta, list(datamodule.symmetry_center), datamodule.reflection_axis)
    policy.fit_normalizer(datamodule.normalizer_data(), datamodule.normalizer_episode_ends())
    return init_policy_from(policy, path)
