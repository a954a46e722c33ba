"""Relaxed group convolutions on pixel grids (Wang, Walters & Yu, ICML 2022), for the top-down image encoder.

A :class:`RelaxedR2Conv` keeps L equivariant filter banks psi_l (escnn ``R2Conv`` s on rot2dOnR2(N), regular output
fields) and learnable weights w_l(h), one per bank and group element h of the output's regular fields:

    out(x, h) = sum_l w_l(h) [f * (h . psi_l)](x, h)

(lifting from RGB, and group-to-group between regular fields alike: escnn's regular-field convolution is the group
convolution, entry h of a regular output field being the response to the filter turned by h; in the group-to-group
case this weights the output element h, where Wang et al. write the weights inside the sum over input elements, a
relaxation of the same kind). w starts equal across h, so the layer starts as an exactly equivariant convolution; where training makes w_l depend on h,
the layer responds differently to the same pattern at different absolute orientations: it has broken the symmetry,
and w shows at which orientations.

Cost: w_l(h) scales output channel (field, h), so the L banks fold into one filter,
``Psi(field, h) = sum_l w_l(h) psi_l(field, h)``, before a single ``conv2d``: the same convolution as the exact
layer's, plus the expansion of L filter banks (small next to the convolution of a batch of images).

Prior: ``alpha * sum_l sum_h (w_l(h) - mean_h w_l)^2`` (quadratic: its pull vanishes at equality, so small
data-driven differences are not pinned at zero the way an L1 prior's kink pins them).

Tensors: ``GeometricTensor`` (N, in_type.size, H, W) -> (N, out_type.size, H', W'); out_type is regular, laid out
field by field with the |G| entries of a field indexed by h (escnn's convention).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from equidiff_relaxed._escnn import enn
from equidiff_relaxed.nn.penalty import Penalised, modules_of
from equidiff_relaxed.nn.r2conv import R2Conv, full_precision

ConvFactory = Callable[..., enn.EquivariantModule]
"""``factory(in_type, out_type, kernel_size, padding=..., stride=...)`` -> an R2Conv-like module (escnn's ``R2Conv``,
or :class:`RelaxedR2Conv` with its banks and prior bound by ``functools.partial``)."""


def _is_regular(ftype: enn.FieldType) -> bool:
    reg = ftype.gspace.fibergroup.regular_representation
    return all(r.name == reg.name for r in ftype.representations)


class RelaxedR2Conv(enn.EquivariantModule, Penalised):
    """A relaxed group convolution (see the module docstring): ``banks`` equivariant banks, learnable w_l(h),
    quadratic prior ``alpha`` on their spread over h."""

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, kernel_size: int, padding: int = 0,
                 stride: int = 1, bias: bool = True, banks: int = 2, alpha: float = 0.0):
        super().__init__()
        if not _is_regular(out_type):
            raise ValueError("a relaxed convolution needs regular output fields")
        if banks < 1:
            raise ValueError(f"a relaxed convolution needs banks >= 1, got {banks}")
        self.in_type, self.out_type = in_type, out_type
        self.group_order = out_type.gspace.fibergroup.order()
        self.n_banks, self.alpha, self.stride, self.padding = banks, alpha, stride, padding
        # the L banks as one escnn convolution with L times the output fields: field l * F + i is bank l's field i
        stacked = enn.FieldType(out_type.gspace, banks * list(out_type.representations))
        self.conv = R2Conv(in_type, stacked, kernel_size, padding=padding, stride=stride, bias=bias)
        # w_l(h): (L, N), 1/sqrt(L) so that the sum of L independently initialised banks has the exact convolution's
        # scale (with 1/L it would start 1/sqrt(L) smaller, and the encoder's features shrink layer by layer)
        self.relax_weights = nn.Parameter(torch.full((banks, self.group_order), banks ** -0.5))

    def filter_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The folded filter (out_type.size, in_type.size, k, k) and bias (out_type.size,) or None: channel
        (i, h) is ``sum_l w_l(h) psi_l(i, h)``. Differentiable in the banks' weights and in w."""
        with full_precision():
            filt, bias = self.conv.expand_parameters()
        n, banks = self.group_order, self.n_banks
        fields = self.out_type.size // n
        w = self.relax_weights[:, None, :]  # (L, 1, N)
        filt = (w[..., None, None, None] * filt.view(banks, fields, n, *filt.shape[1:])).sum(0)
        filt = filt.reshape(self.out_type.size, *filt.shape[2:])
        if bias is not None:
            bias = (w * bias.view(banks, fields, n)).sum(0).reshape(-1)
        return filt, bias

    def forward(self, x: enn.GeometricTensor) -> enn.GeometricTensor:
        """(M, in_type.size, H, W) -> (M, out_type.size, H', W'), one ``conv2d`` with the folded filter."""
        if x.type != self.in_type:
            raise ValueError("a relaxed convolution got a GeometricTensor of another field type than its in_type")
        filt, bias = self.filter_and_bias()
        y = F.conv2d(x.tensor, filt, bias, stride=self.stride, padding=self.padding)
        return enn.GeometricTensor(y, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        stacked = self.conv.evaluate_output_shape(input_shape)
        return (stacked[0], self.out_type.size, *stacked[2:])

    def train(self, mode: bool = True) -> "RelaxedR2Conv":
        """Keeps the inner stacked convolution in training mode: in eval mode escnn would cache its (L times larger)
        filter as buffers that this layer never reads."""
        super().train(mode)
        self.conv.train(True)
        return self

    @torch.no_grad()
    def export(self) -> nn.Conv2d:
        """The plain ``nn.Conv2d`` with the folded filter: the same function, for inference."""
        filt, bias = self.filter_and_bias()
        conv = nn.Conv2d(self.in_type.size, self.out_type.size, filt.shape[-1], stride=self.stride,
                         padding=self.padding, bias=bias is not None)
        conv.weight.copy_(filt)
        if bias is not None:
            conv.bias.copy_(bias)
        return conv.to(filt.device).eval()

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * sum_l sum_h (w_l(h) - mean_h w_l)^2``."""
        w = self.relax_weights
        return self.alpha * (w - w.mean(dim=1, keepdim=True)).pow(2).sum()

    def breaking(self) -> torch.Tensor:
        """(L, N) w_l(h), detached (equal along each row: exactly equivariant)."""
        return self.relax_weights.detach()

    @torch.no_grad()
    def filter_relaxation(self) -> float:
        """How far the folded filter is from the nearest exactly equivariant one: ||Psi - Psi_eq|| / ||Psi||, where
        Psi_eq folds the same banks with w_l(h) replaced by its mean over h (0: exact)."""
        filt, _ = self.filter_and_bias()
        saved = self.relax_weights.detach().clone()
        try:
            self.relax_weights.copy_(saved.mean(dim=1, keepdim=True).expand_as(saved))
            exact, _ = self.filter_and_bias()
        finally:
            self.relax_weights.copy_(saved)
        return float((filt - exact).norm() / filt.norm().clamp_min(1e-12))


def relaxed_convs(module: nn.Module) -> list[tuple[str, RelaxedR2Conv]]:
    """(dotted name, layer) of every :class:`RelaxedR2Conv` in ``module``."""
    return modules_of(module, RelaxedR2Conv)


@torch.no_grad()
def quarter_turn_errors(net: enn.SequentialModule, x: torch.Tensor) -> list[float]:
    """Relative equivariance error of every layer's output of an escnn stack under the quarter turn (exact on the
    pixel grid): ``||L(r x) - r L(x)|| / ||L(x)||`` after each module of ``net``, for inputs ``x`` (M, C, H, W) of
    ``net``'s input type (H = W, even sizes through every stride; C_N with N a multiple of 4). Cumulative: layer k's error includes what the
    layers before it broke."""
    group = net.in_type.gspace.fibergroup
    if group.order() % 4:
        raise ValueError(f"a quarter turn is not an element of C{group.order()}")
    quarter = group.element(group.order() // 4)
    a = enn.GeometricTensor(x, net.in_type)
    b = a.transform(quarter)  # for RGB images (trivial fields) the pixels turned by 90 degrees
    errors = []
    for layer in net:
        a, b = layer(a), layer(b)
        if _reported(layer):
            expected = a.transform(quarter).tensor
            errors.append(float((b.tensor - expected).norm() / a.tensor.norm().clamp_min(1e-12)))
    return errors


def _reported(layer: nn.Module) -> bool:
    """A convolution (escnn's or relaxed) or a block of them (a residual block: a module with convolutions inside)."""
    return isinstance(layer, (enn.R2Conv, RelaxedR2Conv)) or any(
        isinstance(m, (enn.R2Conv, RelaxedR2Conv)) for m in layer.modules())


def conv_layer_names(net: enn.SequentialModule) -> list[str]:
    """The names of the layers :func:`quarter_turn_errors` reports on, in order: "conv<i>" for convolutions,
    "block<i>" for blocks of them (numbered together)."""
    return [f"{'conv' if isinstance(layer, (enn.R2Conv, RelaxedR2Conv)) else 'block'}{i + 1}"
            for i, layer in enumerate(m for m in net if _reported(m))]


__all__ = ["ConvFactory", "RelaxedR2Conv", "conv_layer_names", "quarter_turn_errors", "relaxed_convs"]
