"""Symmetry diagnostics of a policy: equivariance error per region and the learned relaxation weights w_l(h)."""
from __future__ import annotations

import math

import numpy as np
import torch

from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.policy.families import get_family
from equidiff_relaxed.symmetry.actions import rotate_field, rotate_image


def test_angles(policy: DiffusionPolicy) -> list[float]:
    """Non-identity group elements to test: C_N of the model (8 for plain), quarter turns only with images."""
    if policy.meta.top_down_keys:
        return [k * math.pi / 2 for k in (1, 2, 3)]
    n = policy.group_order if get_family(policy.model_family).symmetric else 8
    return [2 * math.pi * k / n for k in range(1, n)]


def rotate_obs(policy: DiffusionPolicy, obs: dict[str, torch.Tensor], phi: float) -> dict[str, torch.Tensor]:
    """The group action on an observation window; camera images (rep 'camera') are invariant inputs: unchanged."""
    out = {}
    for k, meta in policy.meta.obs.items():
        if k in policy.meta.camera_keys:
            out[k] = obs[k]
        elif meta.type == "rgb":
            out[k] = rotate_image(obs[k], phi)
        else:
            out[k] = rotate_field(obs[k], meta.fields, phi, policy.symmetry_center)
    return out


@torch.no_grad()
def equivariance_error(policy: DiffusionPolicy, samples: list[dict[str, torch.Tensor]], seed: int = 0) -> dict[str, float]:
    """Mean over samples and group elements g of ||pi(g.o) - g.pi(o)|| with fixed (rotated) diffusion noise.

    ``samples``: observation windows {key: (To, ...)} as the policy takes them. Returns ``abs``, the error in action
    units (RMS over the executed actions), and ``rel``, the same in normalised action units (the symmetric
    normalizer maps planar positions into the unit disk about the symmetry centre).
    """
    if not samples:
        return {"abs": math.nan, "rel": math.nan}
    policy.eval()
    obs = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(samples), policy.horizon, policy.action_dim, generator=g)
    fields = policy.meta.action.fields
    base = policy.predict_action(obs, noise=noise)
    errs, rels = [], []
    for phi in test_angles(policy):
        moved = policy.predict_action(rotate_obs(policy, obs, phi), noise=rotate_field(noise, fields, phi))
        expected = rotate_field(base, fields, phi, policy.symmetry_center)
        errs.append((moved - expected).pow(2).sum(-1).mean(-1).sqrt())
        diff = policy.normalizer.normalize(moved, "action") - policy.normalizer.normalize(expected, "action")
        rels.append(diff.pow(2).sum(-1).mean(-1).sqrt())
    return {"abs": float(torch.cat(errs).mean()), "rel": float(torch.cat(rels).mean())}


def relaxation_weights(policy: DiffusionPolicy) -> dict[str, dict]:
    """Per relaxed layer: w_l(h) as an (L, N) list, and mean over h of |w(h) - w(e)| (averaged over banks)."""
    out = {}
    for name, layer in policy.relaxed_layers():
        w = layer.breaking().cpu().numpy()
        out[name] = {"weights": w.tolist(), "mean_abs_deviation_from_identity": float(np.abs(w - w[:, :1]).mean())}
    return out
