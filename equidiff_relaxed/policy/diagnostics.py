"""Symmetry diagnostics of a policy: equivariance error, the learned relaxation weights w_l(h), and the mean gate of a
family with a gate. Families combine them per region (:meth:`~equidiff_relaxed.policy.families.Family.diagnostics`);
evaluation reports what they return."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from equidiff_relaxed.nn.penalty import GateReporter, modules_of
from equidiff_relaxed.nn.relaxed_conv import RelaxedR2Conv, conv_layer_names, quarter_turn_errors, relaxed_convs
from equidiff_relaxed.symmetry.group import Element, SymmetryGroup

DiffusionPolicy = Any  # a :class:`~equidiff_relaxed.policy.diffusion_policy.DiffusionPolicy` (not imported: the
# families' diagnostics hooks call these functions, and the policy imports the families)


def elements_to_test(policy: DiffusionPolicy) -> list[Element]:
    """Non-identity group elements to test: the family's diagnostic group (the policy's C_N or D_N for networks with
    a group axis, C_8 otherwise), quarter turns only with top-down images."""
    if policy.meta.top_down_keys:
        return SymmetryGroup(4).elements[1:]
    return policy.family.diagnostic_group(policy).elements[1:]


def angles_to_test(policy: DiffusionPolicy) -> list[float]:
    """The rotation angles of :func:`elements_to_test` (for C_N groups these are the elements)."""
    return [e.phi for e in elements_to_test(policy)]


def transform_obs(policy: DiffusionPolicy, obs: dict[str, torch.Tensor], e: Element) -> dict[str, torch.Tensor]:
    """Element ``e`` on an observation window {key: (B, To, ...)} (:meth:`DiffusionPolicy.transform_obs`)."""
    b = len(next(iter(obs.values())))
    phi = torch.full((b,), e.phi)
    return policy.transform_obs(obs, phi, torch.ones(b) if e.reflect else None)


def rotate_obs(policy: DiffusionPolicy, obs: dict[str, torch.Tensor], phi: float) -> dict[str, torch.Tensor]:
    """:func:`transform_obs` for the rotation by ``phi``."""
    return transform_obs(policy, obs, Element(phi))


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
    act = policy.group.act
    for e in elements_to_test(policy):
        moved_noise = act(noise, fields, e, (0.0, 0.0))
        moved = policy.predict_action(transform_obs(policy, obs, e), noise=moved_noise)
        expected = act(base, fields, e, policy.symmetry_center)
        errs.append((moved - expected).pow(2).sum(-1).mean(-1).sqrt())
        diff = policy.normalizer.normalize(moved, "action") - policy.normalizer.normalize(expected, "action")
        rels.append(diff.pow(2).sum(-1).mean(-1).sqrt())
    return {"abs": float(torch.cat(errs).mean()), "rel": float(torch.cat(rels).mean())}


def element_label(e: Element) -> str:
    """"45°" for a rotation, "S·45°" for the reflection followed by that rotation."""
    return f"{'S·' if e.reflect else ''}{math.degrees(e.phi):.0f}°"


def relaxation_weights(policy: DiffusionPolicy) -> dict[str, dict]:
    """Per relaxed layer: w_l(h) as an (L, |G|) list, the element labels, and mean over h of |w(h) - w(e)|
    (averaged over banks)."""
    out = {}
    labels = [element_label(e) for e in policy.group.elements]
    for name, layer in [*policy.relaxed_layers(), *relaxed_convs(policy)]:
        w = layer.breaking().cpu().numpy()
        out[name] = {"weights": w.tolist(), "elements": labels,
                     "mean_abs_deviation_from_identity": float(np.abs(w - w[:, :1]).mean())}
        if isinstance(layer, RelaxedR2Conv):
            out[name]["filter_relaxation"] = layer.filter_relaxation()
    return out


@torch.no_grad()
def image_layer_errors(policy: DiffusionPolicy, samples: dict[int, list[dict[str, torch.Tensor]]],
                       max_images: int = 16) -> dict[str, list[float]]:
    """Per convolution of each top-down image encoder ("<key>.conv<i>"): the relative equivariance error of its
    output under the quarter turn (:func:`~equidiff_relaxed.nn.relaxed_conv.quarter_turn_errors`) on each region's
    images (up to ``max_images`` frames per region, centre-cropped as at inference), one value per region in the
    order of ``samples``' keys (NaN for a region without samples)."""
    from equidiff_relaxed.nn.encoders import EquivariantImageNet, crop

    nets = {name: m for name, m in modules_of(policy, EquivariantImageNet)}
    keys = policy.meta.top_down_keys
    if not nets or not keys or policy.group.order % 4:  # no quarter turn in the group: nothing exact to measure
        return {}
    policy.eval()
    out: dict[str, list[float]] = {}
    for key in keys:
        net = next((m for name, m in nets.items() if name.endswith(f"images.{key}")), None)
        if net is None:
            continue
        names = conv_layer_names(net.net)
        rows = {f"{key}.{n}": [] for n in names}
        for region in sorted(samples):
            frames = [s[key].reshape(-1, *s[key].shape[-3:]) for s in samples[region]]
            if not frames:
                for n in names:
                    rows[f"{key}.{n}"].append(math.nan)
                continue
            x = torch.cat(frames)[:max_images].float()
            if net.crop_px is not None:
                x = crop(x, (net.crop_px, net.crop_px), False)
            for n, err in zip(names, quarter_turn_errors(net.net, x.contiguous())):
                rows[f"{key}.{n}"].append(err)
        out.update(rows)
    return out


@torch.no_grad()
def mean_gate(policy: DiffusionPolicy, samples: list[dict[str, torch.Tensor]]) -> float:
    """The mean gate over observation windows {key: (To, ...)} of the policy's gate
    (:class:`~equidiff_relaxed.nn.penalty.GateReporter`: the gated family's g(o), the local family's narrowing
    1 - H(w(o)) / log K); NaN for policies without a gate or without samples."""
    gates = [m for _, m in modules_of(policy, GateReporter)]
    if not samples or not gates:
        return math.nan
    policy.eval()
    obs = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    return float(gates[0].gate_value(policy._normalize_obs(obs)).mean())
