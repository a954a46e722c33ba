"""Fine-tuning: initialise a model from a checkpoint, reporting mismatches key by key.

An exactly equivariant checkpoint initialises a relaxed model: every relaxed bank gets the equivariant layer's
weights and w_l(h) = 1/L, so the relaxed model starts with identical outputs (see group_linear).
"""
from __future__ import annotations

import os

import torch

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.nn.group_linear import expand_equivariant_state
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy


def load_checkpoint(path: str | os.PathLike) -> dict:
    """``torch.load(weights_only=True)`` with one-line errors for missing, corrupt or foreign files."""
    if not os.path.exists(path):
        raise UserError("no such checkpoint", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt or unsafe files
        raise UserError(f"not a loadable checkpoint ({type(err).__name__}: {str(err).splitlines()[0][:120]})",
                        path) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise UserError("not an equidiff-relaxed Lightning checkpoint (no state_dict / hyper_parameters)", path)
    return ckpt


def policy_state(ckpt: dict, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The policy's weights from a checkpoint: the EMA copy when present and asked for."""
    ema = (ckpt.get("callbacks") or {}).get("EMA", {}).get("shadow")
    if use_ema and ema:
        return dict(ema)
    return {k[len("policy."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("policy.")}


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
