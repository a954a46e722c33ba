"""Group-linear layers between C_N field types, exact, relaxed or with a residual pathway.

Tensors are plain ``(B, in_type.size)`` -> ``(B, out_type.size)``. Regular fields are laid out field by field, each
field's N entries indexed by the group element h (escnn's convention), so ``y.view(B, K, N)[:, k, h]``.

- ``equivariant``: one escnn ``Linear`` (an equivariant map built from escnn's steerable basis).
- ``relaxed`` (Wang, Walters & Yu, ICML 2022, "relaxed group convolution"): L equivariant banks Psi_l and learnable
  weights w_l(h) per group element h. With regular *output* (lifting): ``y(h) = sum_l w_l(h) (Psi_l x)(h)``; with
  regular *input* (group-to-group, projection): ``y = sum_l Psi_l(w_l * x)`` where ``(w_l * x)(h) = w_l(h) x(h)``.
  w starts equal across h (1/L), so the layer starts exactly equivariant; ``penalty()`` is
  ``alpha * sum_l sum_{g,h} |w_l(g) - w_l(h)|``. Because h is an absolute orientation, w shows *where* symmetry broke.
- ``residual`` (Finzi et al. 2021, residual pathway priors): equivariant map + an unconstrained ``nn.Linear``
  started at zero, with penalty ``beta * ||W||^2``.

An exactly equivariant layer is the relaxed layer with L = 1 and frozen weights, so equivariant checkpoints can
initialise relaxed models (see :func:`expand_equivariant_state`).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from escnn import nn as enn

KINDS = ("equivariant", "relaxed", "residual")


def _is_regular(ftype: enn.FieldType) -> bool:
    reg = ftype.gspace.fibergroup.regular_representation
    return all(r.name == reg.name for r in ftype.representations)


class GroupLinear(nn.Module):
    """See the module docstring. ``relax_on``: "output" or "input" (which side is regular and carries w_l(h))."""

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, kind: str = "equivariant",
                 banks: int = 2, alpha: float = 0.0, beta: float = 0.0, relax_on: str | None = None,
                 bias: bool = True):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown layer kind {kind!r} (known: {', '.join(KINDS)})")
        self.in_type, self.out_type, self.kind = in_type, out_type, kind
        self.group_order = in_type.gspace.fibergroup.order()
        n_banks = banks if kind == "relaxed" else 1
        if n_banks < 1:
            raise ValueError(f"relaxed layers need banks >= 1, got {banks}")
        self.banks = nn.ModuleList(enn.Linear(in_type, out_type, bias=bias) for _ in range(n_banks))
        if relax_on is None:
            relax_on = "output" if _is_regular(out_type) else "input"
        if relax_on not in ("input", "output"):
            raise ValueError(f"relax_on must be 'input' or 'output', got {relax_on!r}")
        side = out_type if relax_on == "output" else in_type
        if kind == "relaxed" and not _is_regular(side):
            raise ValueError(f"a relaxed layer needs regular fields on its {relax_on} side")
        self.relax_on = relax_on
        self.alpha, self.beta = alpha, beta
        # w_l(h): (L, N); frozen and equal for equivariant / residual layers
        self.relax_weights = nn.Parameter(torch.full((n_banks, self.group_order), 1.0 / n_banks),
                                          requires_grad=kind == "relaxed")
        self.residual = nn.Linear(in_type.size, out_type.size, bias=False) if kind == "residual" else None
        if self.residual is not None:
            nn.init.zeros_(self.residual.weight)

    def _weigh(self, x: torch.Tensor, l: int) -> torch.Tensor:
        n = self.group_order
        return (x.view(x.shape[0], -1, n) * self.relax_weights[l]).reshape(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_type.size) -> (B, out_type.size)."""
        if self.kind != "relaxed":
            y = self.banks[0](enn.GeometricTensor(x, self.in_type)).tensor
            return y + self.residual(x) if self.residual is not None else y
        out = None
        for l, bank in enumerate(self.banks):
            if self.relax_on == "output":
                y = self._weigh(bank(enn.GeometricTensor(x, self.in_type)).tensor, l)
            else:
                y = bank(enn.GeometricTensor(self._weigh(x, l), self.in_type)).tensor
            out = y if out is None else out + y
        assert out is not None
        return out

    def penalty(self) -> torch.Tensor:
        """The symmetry-breaking regulariser of this layer (0 for exact layers)."""
        if self.kind == "relaxed":
            w = self.relax_weights
            return self.alpha * (w[:, :, None] - w[:, None, :]).abs().sum()
        if self.residual is not None:
            return self.beta * self.residual.weight.pow(2).sum()
        return self.relax_weights.new_zeros(())

    def breaking(self) -> torch.Tensor:
        """(L, N) learned w_l(h) (all equal for exact layers)."""
        return self.relax_weights.detach()


def group_linear_layers(module: nn.Module) -> list[tuple[str, GroupLinear]]:
    return [(name, m) for name, m in module.named_modules() if isinstance(m, GroupLinear)]


def expand_equivariant_state(state: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """Map a checkpoint of exact layers (1 bank) onto ``target``'s relaxed layers (L banks): every bank gets the
    exact layer's weights and w_l(h) = 1/L, so the relaxed model computes exactly the same function."""
    out = dict(state)
    for name, layer in group_linear_layers(target):
        prefix = f"{name}." if name else ""
        if layer.kind != "relaxed" or f"{prefix}banks.0.weights" not in state:
            continue
        if f"{prefix}banks.1.weights" in state:
            continue  # already relaxed
        n_banks = len(layer.banks)
        for key in [k for k in state if k.startswith(f"{prefix}banks.0.")]:
            value = state[key]
            if layer.relax_on == "input" and key == f"{prefix}banks.0.bias":
                value = value / n_banks  # each bank adds its bias once: L banks of b/L add up to b
            for l in range(n_banks):
                out[key.replace(f"{prefix}banks.0.", f"{prefix}banks.{l}.", 1)] = value.clone()
        # with w_l(h) = 1/L: sum_l w_l (Psi x) = Psi x on the output side, sum_l Psi(x / L) = Psi x on the input side
        out[f"{prefix}relax_weights"] = torch.full((n_banks, layer.group_order), 1.0 / n_banks)
    return out
