"""Noise-prediction networks for action chunks (B, T, A), conditioned on the diffusion step and encoder features.

- :class:`PlainDenoiser`: the 1D U-Net on the action channels; condition (B, C).
- :class:`EquivariantDenoiser` (EquiDiff's group folding): the normalised action is mapped to its G irreps
  (shape_meta), lifted to K regular fields with a group-linear layer, the group axis is folded into the batch and
  ONE shared U-Net runs on every copy h with that copy's condition features (B, C, |G|)[..., h]; an element permutes
  the copies, so the result is equivariant; a group-linear projection maps back to the action's representation.
  The lifting and projection are layers of the given kind (``layer``: exact, relaxed or residual).
"""
from __future__ import annotations

from collections.abc import Sequence
import torch
from einops import rearrange
from torch import nn

from equidiff_relaxed._escnn import enn

from equidiff_relaxed.data.shape_meta import FieldMeta
from equidiff_relaxed.nn.fields import IrrepLayout
from equidiff_relaxed.nn.group_linear import EquivariantLinear, LayerFactory
from equidiff_relaxed.nn.unet1d import ConditionalUnet1D
from equidiff_relaxed.symmetry.group import SymmetryGroup


class PlainDenoiser(nn.Module):
    def __init__(self, action_dim: int, cond_dim: int, down_dims: Sequence[int] = (64, 128, 256),
                 kernel_size: int = 5, n_groups: int = 8):
        super().__init__()
        self.unet = ConditionalUnet1D(action_dim, action_dim, cond_dim, down_dims, kernel_size, n_groups)

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, T, A), step (B,), cond (B, C) -> (B, T, A)."""
        return self.unet(x.transpose(1, 2), step, cond).transpose(1, 2)


def folding_types(action: FieldMeta, group: SymmetryGroup, lift_fields: int
                  ) -> tuple[IrrepLayout, enn.FieldType, enn.FieldType]:
    """What the group-folded denoisers lift from and project back to: the action's irrep layout, its field type
    for ``group`` and ``lift_fields`` regular fields. The caller creates the lifting (relax_on="output") and
    projection (relax_on="input") around its own per-copy network."""
    layout = IrrepLayout.of(action, invertible=True)
    act_type = enn.FieldType(group.gspace, layout.representations(group))
    return layout, act_type, group.regular_type(lift_fields)


class EquivariantDenoiser(nn.Module):
    def __init__(self, action: FieldMeta, cond_fields: int, group: SymmetryGroup, lift_fields: int = 16,
                 down_dims: Sequence[int] = (64, 128, 256), kernel_size: int = 5, n_groups: int = 8,
                 layer: LayerFactory = EquivariantLinear):
        super().__init__()
        self.layout, act_type, reg = folding_types(action, group, lift_fields)
        self.lift = layer(act_type, reg, relax_on="output")
        self.unet = ConditionalUnet1D(lift_fields, lift_fields, cond_fields, down_dims, kernel_size, n_groups)
        self.project = layer(reg, act_type, relax_on="input")
        self.n, self.k = group.size, lift_fields

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, T, A) normalised action chunk, step (B,), cond (B, C, |G|) regular -> (B, T, A)."""
        b, t, _ = x.shape
        a = self.layout.to_irreps(x).reshape(b * t, -1)
        z = rearrange(self.lift(a), "(b t) (k n) -> (b n) k t", b=b, n=self.n)
        c = rearrange(cond, "b c n -> (b n) c")
        z = self.unet(z, step.repeat_interleave(self.n), c)
        y = self.project(rearrange(z, "(b n) k t -> (b t) (k n)", b=b, n=self.n))
        return y.view(b, t, -1)  # an invertible layout's coordinates are the action's own
