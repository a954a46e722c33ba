"""escnn's ``R2Conv`` made to train under mixed precision and to build quickly at EquiDiff's scale.

- Mixed precision: escnn builds its filters (and its ``Linear`` matrices) by writing expanded basis blocks into a
  preallocated tensor, which fails under autocast (a float32 destination, bfloat16 blocks). :func:`full_precision`
  turns autocast off while they are built; the convolution or matmul that uses them still runs under autocast.
- Initialisation: escnn's generalized He initialisation loops in Python over every basis element (2.5 s for one
  64 -> 128 regular-field 3x3 convolution, 26 s for EquiDiff's 4.5 M-parameter encoder). For field types made of one
  representation repeated (every convolution here), the variances are those of a one-field-to-one-field layer,
  repeated over the field pairs, with the basis counts times the number of input fields: :class:`R2Conv` computes
  them that way (bit-identical to escnn's, same random draws; tested), and falls back to escnn's otherwise.
"""
from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from typing import Any, Iterator

import torch

from equidiff_relaxed._escnn import enn


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Autocast off (CPU and CUDA) inside the block."""
    with torch.autocast("cpu", enabled=False):
        if torch.cuda.is_available():
            with torch.autocast("cuda", enabled=False):
                yield
        else:
            yield


def autocasting() -> bool:
    """Whether autocast is on for the CPU or a CUDA device."""
    try:
        return torch.is_autocast_enabled("cpu") or (torch.cuda.is_available() and torch.is_autocast_enabled("cuda"))
    except TypeError:  # torch < 2.4: no device argument
        return torch.is_autocast_cpu_enabled() or torch.is_autocast_enabled()


_PAIR_COUNTS: dict[tuple, list[tuple[int, int]]] = {}  # (in repr, out repr, conv args) -> per-weight basis counts


def _uniform(ftype: enn.FieldType) -> bool:
    return len({r.name for r in ftype.representations}) == 1


def he_variances(conv: enn.R2Conv, kernel_size: int, conv_args: dict[str, Any]) -> torch.Tensor:
    """escnn's generalized He variances of ``conv``'s weights, (conv.weights.numel(),), from a one-field-to-one-field
    layer of the same representations (requires field types of one representation each), cached per gspace,
    representations, kernel size and basis arguments."""
    rin, rout = conv.in_type.representations[0], conv.out_type.representations[0]
    key = (conv.in_type.gspace.name, rin.name, rout.name, kernel_size, repr(sorted(conv_args.items())))
    if key not in _PAIR_COUNTS:
        gs = conv.in_type.gspace
        pair = enn.R2Conv(enn.FieldType(gs, [rin]), enn.FieldType(gs, [rout]), kernel_size, initialize=False,
                          **conv_args)
        inputs, basis = defaultdict(set), defaultdict(int)
        info = list(pair.basisexpansion.get_basis_info())
        for attr in info:
            inputs[attr["out_irreps_position"]].add(attr["in_irrep"])
            basis[(attr["in_irrep"], attr["out_irreps_position"])] += 1
        _PAIR_COUNTS[key] = [(len(inputs[a["out_irreps_position"]]), basis[(a["in_irrep"], a["out_irreps_position"])])
                             for a in info]
    n_in, n_out = len(conv.in_type), len(conv.out_type)
    pair = torch.tensor([1.0 / math.sqrt(i * n_in * b) for i, b in _PAIR_COUNTS[key]])
    return pair.repeat(n_in * n_out)


class R2Conv(enn.R2Conv):
    """escnn's ``R2Conv`` (same parameters, same function, same initial weights) whose filter is expanded in full
    precision and whose He initialisation is computed per field pair (see the module docstring)."""

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, kernel_size: int, *, padding: int = 0,
                 stride: int = 1, dilation: int = 1, groups: int = 1, bias: bool = True, initialize: bool = True,
                 **kwargs: Any):
        fast = initialize and groups == 1 and _uniform(in_type) and _uniform(out_type)
        super().__init__(in_type, out_type, kernel_size, padding=padding, stride=stride, dilation=dilation,
                         groups=groups, bias=bias, initialize=initialize and not fast, **kwargs)
        if fast:
            variances = he_variances(self, kernel_size, {"dilation": dilation, **kwargs})
            assert variances.shape == self.weights.shape
            with torch.no_grad():
                self.weights.data[:] = variances * torch.randn_like(self.weights.data)

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """escnn's filter (out, in, k, k) and bias (out,) or None, built in full precision."""
        with full_precision():
            return super().expand_parameters()


__all__ = ["R2Conv", "autocasting", "full_precision", "he_variances"]
