"""Export a trained policy's escnn parts to plain PyTorch modules for fast inference.

Every group-linear layer is a fixed linear map once training is over, whatever its kind:

- equivariant: escnn's expanded matrix ``Psi``;
- relaxed with regular output: ``W = sum_l diag(w_l) Psi_l`` (w_l(h) repeated over the K output fields);
- relaxed with regular input: ``W = sum_l Psi_l diag(w_l)``, bias ``sum_l b_l``;
- residual: ``W = Psi + R``.

So :func:`export_policy` replaces each :class:`GroupLinear` by one ``nn.Linear`` (L banks become one matmul) and each
escnn image network by ``nn.Conv2d``/``nn.ReLU``/``nn.AvgPool2d``. The exported copy computes the same function
(to float rounding) and keeps the same group representations on every tensor; it has no relaxation weights left, so
it is for inference only (no penalty, no symmetry diagnostics). The original policy is not modified.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from equidiff_relaxed.nn.encoders import EquivariantImageNet, crop
from equidiff_relaxed.nn.group_linear import GroupLinear
from equidiff_relaxed.nn.image_resnet import ResBlock

from equidiff_relaxed._escnn import enn


def group_linear_to_linear(layer: GroupLinear) -> nn.Linear:
    """The dense ``nn.Linear`` computing ``layer`` (B, in_type.size) -> (B, out_type.size) exactly: escnn's
    ``export`` of the layer (:meth:`GroupLinear.export`, L banks folded into one matrix)."""
    return layer.export()


class ExportedImageNet(nn.Module):
    """Plain-PyTorch copy of a small :class:`EquivariantImageNet`: (M, C, H, W) -> (M, out_fields * N), regular fields.
    (escnn's ``export`` puts the given network's layers in eval mode.)"""

    def __init__(self, net: EquivariantImageNet):
        super().__init__()
        layers: list[nn.Module] = []
        for module in net.net:
            if isinstance(module, enn.PointwiseAvgPool2D):
                layers.append(nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode))
            else:
                layers.append(module.export())
        self.net = nn.Sequential(*layers)
        self.crop_px = net.crop_px

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.crop_px is not None:
            x = crop(x, (self.crop_px, self.crop_px), self.training, generator)
        return self.net(x).mean(dim=(-2, -1))


def _exported(module: nn.Module) -> nn.Module | None:
    """The plain-PyTorch replacement of ``module``, or None to keep it (an image encoder with residual blocks, the
    resnet architecture, stays an escnn module: in eval mode escnn caches its filters, so it runs at conv2d speed)."""
    if isinstance(module, GroupLinear):
        return group_linear_to_linear(module)
    if isinstance(module, EquivariantImageNet) and not any(isinstance(m, ResBlock) for m in module.net):
        return ExportedImageNet(module)
    return None


def export_policy(policy: nn.Module) -> nn.Module:
    """A copy of ``policy`` in eval mode with every escnn part replaced by plain PyTorch (see module docstring)."""
    was_training = policy.training
    policy.train()  # escnn drops its cached (non-leaf) matrices in train mode, which deepcopy cannot copy
    try:
        out = copy.deepcopy(policy)
    finally:
        policy.train(was_training)
    for name, module in list(out.named_modules()):
        replacement = _exported(module)
        if replacement is None or not name:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, replacement)
    return out.eval()
