"""EquiDiff's agentview encoder design at its scale, as a library encoder (``model.image_encoder: resnet``).

(M, 3, 76, 76) -> (M, 8 F * N) regular fields, with F = ``fields`` (EquiDiff: F = 16, N = 8, about 4.5 M
parameters): a 5x5 stem without padding to F regular fields (76 -> 72), four stages of two residual blocks each with
F, 2F, 4F, 8F fields and max pooling between them (72 -> 36 -> 18 -> 9 -> 3), a final 3x3 convolution to 1x1. Every
step keeps the sampling grid symmetric about the image centre, so quarter turns are exact; the input side must be 76
(EquiDiff's random crop of 84 px images). ``conv``: the kind of its convolutions (exact, or relaxed group
convolutions, :mod:`equidiff_relaxed.nn.relaxed_conv`).
"""
from __future__ import annotations

import torch

from equidiff_relaxed._escnn import enn, gspaces
from equidiff_relaxed.nn.r2conv import R2Conv
from equidiff_relaxed.nn.relaxed_conv import ConvFactory

RESNET_SIDE = 76  # the only input side whose stages stay symmetric down to 1x1


class ResBlock(enn.EquivariantModule):
    """Two 3x3 convolutions with a ReLU between and a skip (a 1x1 convolution where the width changes), regular
    fields: (M, fields_in * N, H, W) -> (M, fields_out * N, H, W)."""

    def __init__(self, gs: gspaces.GSpace2D, fields_in: int, fields_out: int, conv: ConvFactory = R2Conv):
        super().__init__()
        t_in, t_out = enn.FieldType(gs, fields_in * [gs.regular_repr]), enn.FieldType(gs, fields_out * [gs.regular_repr])
        self.in_type, self.out_type = t_in, t_out
        self.body = enn.SequentialModule(conv(t_in, t_out, 3, padding=1), enn.ReLU(t_out, inplace=True),
                                         conv(t_out, t_out, 3, padding=1))
        self.skip = conv(t_in, t_out, 1, bias=False) if fields_in != fields_out else None
        self.relu = enn.ReLU(t_out, inplace=True)

    def forward(self, x: enn.GeometricTensor) -> enn.GeometricTensor:
        skip = self.skip(x) if self.skip is not None else x
        return self.relu(self.body(x) + skip)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape[0], self.out_type.size, *input_shape[2:]


class EquivariantResNet(torch.nn.Module):
    """EquiDiff's cyclic 76 px encoder design (see the module docstring): (M, C, 76, 76) -> (M, 8 F * N)."""

    def __init__(self, channels: int, order: int, fields: int = 16, conv: ConvFactory = R2Conv):
        super().__init__()
        gs = gspaces.rot2dOnR2(order)
        self.in_type = enn.FieldType(gs, channels * [gs.trivial_repr])
        widths = [fields, 2 * fields, 4 * fields, 8 * fields]

        def regular(f: int) -> enn.FieldType:
            return enn.FieldType(gs, f * [gs.regular_repr])

        layers: list[enn.EquivariantModule] = [conv(self.in_type, regular(widths[0]), 5),  # 76 -> 72
                                               enn.ReLU(regular(widths[0]), inplace=True)]
        previous = widths[0]
        for stage, width in enumerate(widths):
            layers += [ResBlock(gs, previous, width, conv), ResBlock(gs, width, width, conv)]
            layers.append(enn.PointwiseMaxPool2D(regular(width), 2 if stage < 3 else 3))  # 72->36->18->9->3
            previous = width
        layers += [conv(regular(widths[-1]), regular(widths[-1]), 3), enn.ReLU(regular(widths[-1]), inplace=True)]
        self.net = enn.SequentialModule(*layers)
        self.out_type = regular(widths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(M, C, 76, 76) -> (M, 8 F * N)."""
        return self.net(enn.GeometricTensor(x, self.in_type)).tensor.flatten(1)


__all__ = ["EquivariantResNet", "RESNET_SIDE", "ResBlock"]
