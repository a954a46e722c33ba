"""Cheap MLP noise-prediction networks for short low-dim action chunks (B, T, A), beside the 1D U-Net.

The chunk is flattened to one vector (T * A entries, or T * K for the group-folded version) and denoised by a
residual MLP whose blocks are conditioned with AdaLN (the DiT form of FiLM) on [step embedding, condition]:

    h = h + Linear(Mish(Linear(LayerNorm(h) * (1 + scale) + shift)))

- :class:`ConditionalMLP`: the shared network (M, in_dim), step (M,), cond (M, cond_dim) -> (M, out_dim).
- :class:`PlainMLPDenoiser`: same interface as :class:`~equidiff_relaxed.nn.denoisers.PlainDenoiser`.
- :class:`EquivariantMLPDenoiser`: same construction as
  :class:`~equidiff_relaxed.nn.denoisers.EquivariantDenoiser` (EquiDiff's group folding) with the U-Net replaced by
  a :class:`ConditionalMLP`: action irreps -> lifted regular fields -> group axis folded into the batch -> ONE shared
  MLP per group copy h with that copy's condition -> projection back to the action's representation. A rotation by
  g permutes the copies (h -> g h), and every operation inside the MLP (including LayerNorm) acts on one copy's
  features only, so the map is C_N-equivariant. A relaxed or residual ``layer`` kind relaxes the lifting and
  the projection exactly as in the U-Net version.

Meant for short horizons (the push tasks: T = 8 or 16, A = 2); the U-Net stays the choice for images and long
horizons, where its temporal convolutions pay off.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from equidiff_relaxed.data.shape_meta import FieldMeta
from equidiff_relaxed.nn.denoisers import folding_types
from equidiff_relaxed.nn.group_linear import EquivariantLinear, LayerFactory
from equidiff_relaxed.nn.unet1d import step_embedding
from equidiff_relaxed.symmetry.group import SymmetryGroup

OUT_INIT_SCALE = 0.1  # the final projection starts small (not zero, so the condition path is trained from step 0)


def _check_sizes(width: int, depth: int) -> None:
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"denoiser_width must be an integer >= 1, got {width!r}")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"denoiser_depth must be an integer >= 1, got {depth!r}")


class AdaLNBlock(nn.Module):
    """Residual block ``h + fc2(Mish(fc1(LayerNorm(h) * (1 + scale) + shift)))``; (M, width) -> (M, width).
    LayerNorm normalises each row (one sample, or one group copy) on its own."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.fc1 = nn.Linear(width, width)
        self.act = nn.Mish()
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """h, scale, shift (M, width) -> (M, width)."""
        return h + self.fc2(self.act(self.fc1(self.norm(h) * (1 + scale) + shift)))


class ConditionalMLP(nn.Module):
    """Residual AdaLN MLP: x (M, in_dim), step (M,), cond (M, cond_dim) -> (M, out_dim).

    The step embedding is the U-Net's (sinusoidal features + a small MLP). One linear layer maps
    Mish([step_emb, cond]) to the (scale, shift) pairs of all ``depth`` blocks and of the final LayerNorm at once.
    The output layer starts small (weights x ``OUT_INIT_SCALE``, bias 0), so the first predictions are near 0.
    """

    def __init__(self, in_dim: int, out_dim: int, cond_dim: int, width: int = 256, depth: int = 3,
                 step_embed_dim: int = 64):
        super().__init__()
        _check_sizes(width, depth)
        self.width, self.depth = width, depth
        self.step_embed = step_embedding(step_embed_dim)
        self.modulation = nn.Sequential(nn.Mish(), nn.Linear(step_embed_dim + cond_dim, 2 * width * (depth + 1)))
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(AdaLNBlock(width) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width, elementwise_affine=False)
        self.out = nn.Linear(width, out_dim)
        with torch.no_grad():
            self.out.weight.mul_(OUT_INIT_SCALE)
            self.out.bias.zero_()

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (M, in_dim), step (B,), cond (M, cond_dim) -> (M, out_dim), with M = B * r: the rows of x and cond
        come in B consecutive groups of r (r = 1 for the plain denoiser, r = N group copies for the folded one)
        that share one diffusion step.

        The modulation layer is linear in [step_emb, cond], so its step part is computed once per group of rows
        (B rows, not M) and repeated: the same function as applying it to the concatenation of every row.
        """
        m, b = x.shape[0], step.shape[0]
        if m % b:
            raise ValueError(f"{m} rows cannot be split into groups for {b} diffusion steps")
        emb = self.step_embed(step)  # (B, E)
        linear = self.modulation[1]
        e = emb.shape[-1]
        step_part = F.linear(F.mish(emb), linear.weight[:, :e])  # (B, 2 * width * (depth + 1))
        mod = F.linear(F.mish(cond), linear.weight[:, e:], linear.bias)
        mod = mod + step_part.repeat_interleave(m // b, dim=0)
        # unbind (not indexing): its backward stacks the gradients once instead of zero-filling a copy per slice
        *mods, last = rearrange(mod, "m (blk two w) -> blk two m w", blk=self.depth + 1, two=2).unbind(0)
        h = self.inp(x)
        for block, block_mod in zip(self.blocks, mods):
            h = block(h, *block_mod.unbind(0))
        scale, shift = last.unbind(0)
        return self.out(self.out_norm(h) * (1 + scale) + shift)


class PlainMLPDenoiser(nn.Module):
    """x (B, T, A) noisy normalised chunk, step (B,), cond (B, C) -> (B, T, A); no symmetry."""

    def __init__(self, action_dim: int, horizon: int, cond_dim: int, width: int = 256, depth: int = 3):
        super().__init__()
        self.horizon, self.action_dim = horizon, action_dim
        self.mlp = ConditionalMLP(horizon * action_dim, horizon * action_dim, cond_dim, width, depth)

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, T, A), step (B,), cond (B, C) -> (B, T, A)."""
        t = x.shape[1]
        if t != self.horizon:
            raise ValueError(f"the MLP denoiser was built for horizon {self.horizon}, got a chunk of {t}")
        y = self.mlp(rearrange(x, "b t a -> b (t a)"), step, cond)
        return rearrange(y, "b (t a) -> b t a", t=t)


class EquivariantMLPDenoiser(nn.Module):
    """Group-folded MLP denoiser (see the module docstring).

    Tensors and their representations of the group G (C_N or D_N, N = |G| entries per regular field below):
      x (B, T, A) normalised action, per time step the action's representation (e.g. pos2 -> rot2);
      cond (B, C, N) C regular fields (entry h: the feature seen by copy h; a rotation by g rolls the last axis);
      lifted (B*T, K*N) K regular fields per time step; folded (B*N, T*K) one row per group copy h, no group action
      inside a row (the group acts by permuting rows);
      output (B, T, A) in the action's representation, like x.
    ``layer``: the kind of the lifting (``relax_on="output"``) and the projection (``relax_on="input"``); see
    :mod:`equidiff_relaxed.nn.group_linear`.
    """

    def __init__(self, action: FieldMeta, horizon: int, cond_fields: int, group: SymmetryGroup,
                 lift_fields: int = 8, width: int = 256, depth: int = 3, layer: LayerFactory = EquivariantLinear):
        super().__init__()
        self.layout, act_type, reg = folding_types(action, group, lift_fields)
        self.lift = layer(act_type, reg, relax_on="output")
        self.mlp = ConditionalMLP(horizon * lift_fields, horizon * lift_fields, cond_fields, width, depth)
        self.project = layer(reg, act_type, relax_on="input")
        self.n, self.k, self.horizon = group.size, lift_fields, horizon

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, T, A) normalised action chunk, step (B,), cond (B, C, |G|) regular -> (B, T, A)."""
        b, t, _ = x.shape
        if t != self.horizon:
            raise ValueError(f"the MLP denoiser was built for horizon {self.horizon}, got a chunk of {t}")
        a = rearrange(self.layout.to_irreps(x), "b t d -> (b t) d")
        z = rearrange(self.lift(a), "(b t) (k n) -> (b n) (t k)", b=b, n=self.n)
        c = rearrange(cond, "b c n -> (b n) c")
        z = self.mlp(z, step, c)  # rows (b n): the N copies of sample b share its step
        y = self.project(rearrange(z, "(b n) (t k) -> (b t) (k n)", b=b, n=self.n, t=t))
        return rearrange(y, "(b t) d -> b t d", b=b)  # an invertible layout's coordinates are the action's own


__all__ = ["ConditionalMLP", "PlainMLPDenoiser", "EquivariantMLPDenoiser"]
