"""Group-linear layers between C_N / D_N field types: one class per kind, each an escnn ``EquivariantModule``.

Tensors are plain ``(B, in_type.size)`` -> ``(B, out_type.size)``. Regular fields are laid out field by field, each
field's N entries indexed by the group element h (escnn's convention), so ``y.view(B, K, N)[:, k, h]``.

- :class:`EquivariantLinear`: one escnn ``Linear`` (an equivariant map built from escnn's steerable basis).
- :class:`RelaxedLinear` (Wang, Walters & Yu, ICML 2022, "relaxed group convolution"): L equivariant banks Psi_l and
  learnable weights w_l(h) per group element h. With regular *output* (lifting): ``y(h) = sum_l w_l(h) (Psi_l x)(h)``;
  with regular *input* (group-to-group, projection): ``y = sum_l Psi_l(w_l * x)`` where ``(w_l * x)(h) = w_l(h) x(h)``.
  w starts equal across h (1/L), so the layer starts exactly equivariant; ``penalty()`` is
  ``alpha * sum_l sum_{g,h} |w_l(g) - w_l(h)|``. Because h is an absolute orientation, w shows *where* symmetry broke.
  With ``coset_index`` (one label per element h: its right coset K h of a subgroup K) w_l is one weight per coset,
  w_l(h) = v_l[coset(h)]: the layer is then exactly K-equivariant (w_l(k^-1 h) = w_l(h) for k in K) and relaxed
  only across the cosets (the ``subgroup`` family).
- :class:`ResidualLinear` (Finzi et al. 2021, residual pathway priors): equivariant map + an unconstrained
  ``nn.Linear`` started at zero, with penalty ``beta * ||W||^2``.

Every kind computes ``x -> W x + b``; the relaxed and residual ones fold their banks (and the residual) into one
matrix first (:meth:`GroupLinear.matrix_and_bias`, also what :mod:`equidiff_relaxed.nn.export` exports): one product
instead of L. Every kind has the same parameters (``banks``, the weights ``relax_weights`` w_l(h), frozen and equal
unless relaxed, and ``residual`` for the residual kind), so an exactly equivariant layer is the relaxed layer with
L = 1 and frozen weights, and equivariant checkpoints initialise relaxed models (:func:`expand_equivariant_state`).

A network that takes a layer kind takes a :data:`LayerFactory`: ``factory(in_type, out_type, relax_on=..., bias=...)``,
e.g. ``EquivariantLinear`` or ``functools.partial(RelaxedLinear, banks=2, alpha=1e-3)``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from equidiff_relaxed._escnn import enn
from equidiff_relaxed.nn.penalty import Penalised, modules_of
from equidiff_relaxed.nn.r2conv import autocasting, full_precision


def _is_regular(ftype: enn.FieldType) -> bool:
    reg = ftype.gspace.fibergroup.regular_representation
    return all(r.name == reg.name for r in ftype.representations)


class GroupLinear(enn.EquivariantModule):
    """What every group-linear kind shares (see the module docstring); use a subclass.

    ``relax_on``: "output" or "input", the regular side that carries w_l(h) (default: the output when it is regular).
    ``forward`` takes a plain tensor (B, in_type.size) or a ``GeometricTensor`` of ``in_type`` (and returns the same
    kind), :meth:`check_equivariance` measures the error per group element (for a relaxed or residual layer that is
    the per-element symmetry-breaking diagnostic) and :meth:`export` returns the folded ``nn.Linear``.
    """

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, relax_on: str | None = None,
                 bias: bool = True, banks: int = 1, weight_columns: int | None = None, trainable_weights: bool = False):
        super().__init__()
        self.in_type, self.out_type = in_type, out_type
        self.group_order = in_type.gspace.fibergroup.order()
        if banks < 1:
            raise ValueError(f"relaxed layers need banks >= 1, got {banks}")
        self.banks = nn.ModuleList(enn.Linear(in_type, out_type, bias=bias) for _ in range(banks))
        if relax_on is None:
            relax_on = "output" if _is_regular(out_type) else "input"
        if relax_on not in ("input", "output"):
            raise ValueError(f"relax_on must be 'input' or 'output', got {relax_on!r}")
        self.relax_on = relax_on
        self.coset_map: torch.Tensor | None
        self.register_buffer("coset_map", None)  # (N,) coset label of each element (relaxed layers with cosets)
        # w_l(h): (L, N), or (L, number of cosets); frozen and equal unless the kind learns them
        self.relax_weights = nn.Parameter(torch.full((banks, weight_columns or self.group_order), 1.0 / banks),
                                          requires_grad=trainable_weights)
        self.residual: nn.Linear | None = None
        self._folded: tuple | None = None

    def _versions(self) -> tuple[tuple[int, int], ...]:
        """(storage address, version counter) of every parameter: changes with any in-place update, load or move.
        (Not ``self.parameters()``: its module walk compares escnn basis objects, which costs more than a matmul.)"""
        tensors = [self.relax_weights] + ([self.residual.weight] if self.residual is not None else [])
        for bank in self.banks:
            tensors += [bank.weights] + ([bank.bias] if bank.bias is not None else [])
        return tuple((t.data_ptr(), t._version) for t in tensors)

    def train(self, mode: bool = True) -> "GroupLinear":
        self._folded = None  # the eval-mode cache of matrix_and_bias()
        return super().train(mode)

    def element_weights(self) -> torch.Tensor:
        """w_l(h) per bank and group element, (L, N) (expanded from one weight per coset with ``coset_index``)."""
        w = self.relax_weights
        return w if self.coset_map is None else w[:, self.coset_map]

    def _fold(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The dense map (out, in) and bias of this kind, differentiable."""
        return self._fold_banks(None)

    def _fold_banks(self, w: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Generic fold: expand every bank with escnn, scale its relaxed side by ``w`` (L, N) (None: no scaling), sum,
        add the residual."""
        n = self.group_order
        weight: torch.Tensor | None = None
        bias: torch.Tensor | None = None
        for l, bank in enumerate(self.banks):
            m, b = bank.expand_parameters()  # escnn: Psi_l (out, in) and its bias (out,) or None
            if w is not None and self.relax_on == "output":
                scale = w[l].repeat(self.out_type.size // n)  # entry k*N + h carries w_l(h)
                m = scale[:, None] * m
                b = None if b is None else scale * b
            elif w is not None:
                m = m * w[l].repeat(self.in_type.size // n)[None, :]
            weight = m if weight is None else weight + m
            bias = b if bias is None else (bias if b is None else bias + b)
        assert weight is not None
        if self.residual is not None:
            weight = weight + self.residual.weight
        return weight, bias

    def matrix_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The dense map of this layer: matrix (out_type.size, in_type.size) and bias (out_type.size,) or None.

        relaxed, regular output: ``sum_l diag(w_l) Psi_l`` (w_l(h) repeated over the output fields), bias
        ``sum_l w_l * b_l``; relaxed, regular input: ``sum_l Psi_l diag(w_l)``, bias ``sum_l b_l``; residual:
        ``Psi + R``; equivariant: escnn's ``Psi``. Differentiable in training mode; in eval mode it is computed
        once and kept until a parameter changes (tracked by the tensors' version counters) or ``train()`` is called.
        """
        if self.training:
            with full_precision():
                return self._fold()
        versions = self._versions()
        cached = self._folded
        if cached is None or cached[0] != versions:
            with torch.no_grad(), full_precision():
                cached = (versions, *self._fold())
            self._folded = cached
        return cached[1], cached[2]

    def forward(self, x: torch.Tensor | enn.GeometricTensor) -> torch.Tensor | enn.GeometricTensor:
        """(B, in_type.size) -> (B, out_type.size), as a plain tensor or a ``GeometricTensor`` (same kind out).
        One matmul with :meth:`matrix_and_bias` (the L banks and the residual are folded into one matrix first: the
        same function as summing the banks' outputs, at a fraction of the cost for batches larger than L)."""
        if isinstance(x, enn.GeometricTensor):
            if x.type != self.in_type:
                raise ValueError("a group-linear layer got a GeometricTensor of another field type than its in_type")
            return enn.GeometricTensor(self(x.tensor), self.out_type)
        weight, bias = self.matrix_and_bias()
        return F.linear(x, weight, bias)

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (input_shape[0], self.out_type.size)

    @torch.no_grad()
    def check_equivariance(self, atol: float = 1e-6, rtol: float = 1e-5) -> list[tuple]:
        """[(g, relative error)] for every element g of the (finite) group: ``|f(g x) - g f(x)| / |f(x)|`` on a
        random batch. The layer must be exact (AssertionError otherwise, as escnn's check) on the elements of
        :meth:`exact_elements`: every element for :class:`EquivariantLinear`, the subgroup K for a relaxed layer with
        ``coset_index``; elsewhere the list is the diagnostic of where it broke symmetry (all ~0 at init)."""
        x = enn.GeometricTensor(torch.randn(16, self.in_type.size), self.in_type)
        y = self(x)
        errors = []
        exact = self.exact_elements()
        for h, g in enumerate(self.in_type.gspace.fibergroup.elements):
            moved, expected = self(x.transform(g)).tensor, y.transform(g).tensor
            rel = float((moved - expected).norm() / y.tensor.norm().clamp_min(1e-12))
            if h in exact and not torch.allclose(moved, expected, atol=atol, rtol=rtol):
                raise AssertionError(f"equivariance error {rel:.2e} for element {g} in an exact layer")
            errors.append((g, rel))
        return errors

    def exact_elements(self) -> set[int]:
        """Indices h of the elements under which this layer is equivariant at every parameter value."""
        return {0}

    def export(self) -> nn.Linear:
        """The dense ``nn.Linear`` (eval mode) computing this layer exactly (banks and residual folded in)."""
        with torch.no_grad():
            weight, bias = self.matrix_and_bias()
        out = nn.Linear(self.in_type.size, self.out_type.size, bias=bias is not None)
        with torch.no_grad():
            out.weight.copy_(weight)
            if bias is not None:
                out.bias.copy_(bias)
        return out.to(weight.device).eval()

    def breaking(self) -> torch.Tensor:
        """(L, N) w_l(h) (all equal for the kinds that do not learn them)."""
        return self.element_weights().detach()


class EquivariantLinear(GroupLinear):
    """An exactly equivariant layer: escnn's ``Linear`` (one bank; w fixed)."""

    def forward(self, x: torch.Tensor | enn.GeometricTensor) -> torch.Tensor | enn.GeometricTensor:
        if isinstance(x, enn.GeometricTensor) or autocasting():  # under autocast: the matrix built in full precision
            return super().forward(x)
        return self.banks[0](enn.GeometricTensor(x, self.in_type)).tensor

    def exact_elements(self) -> set[int]:
        return set(range(self.group_order))


class RelaxedLinear(GroupLinear, Penalised):
    """A relaxed group convolution: ``banks`` equivariant banks, learnable w_l(h), L1 prior ``alpha`` on their
    differences; ``coset_index`` shares w within the cosets of a subgroup (see the module docstring)."""

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, relax_on: str | None = None,
                 bias: bool = True, banks: int = 2, alpha: float = 0.0, coset_index: list[int] | None = None):
        n = in_type.gspace.fibergroup.order()
        columns, coset_map = n, None
        if coset_index is not None:
            if len(coset_index) != n or min(coset_index) < 0:
                raise ValueError(f"coset_index needs one label >= 0 per group element ({n})")
            coset_map, columns = torch.as_tensor(coset_index, dtype=torch.long), int(max(coset_index)) + 1
        super().__init__(in_type, out_type, relax_on, bias, banks, columns, trainable_weights=True)
        side = out_type if self.relax_on == "output" else in_type
        if not _is_regular(side):
            raise ValueError(f"a relaxed layer needs regular fields on its {self.relax_on} side")
        self.coset_map = coset_map
        self.alpha = alpha
        self._init_regular_blocks()

    def _fold(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = self.element_weights()
        if self._regular_blocks:
            return self._fold_regular_blocks(w)
        return self._fold_banks(w)

    def _fold_regular_blocks(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Fast fold for regular -> regular layers, same result as :meth:`_fold_banks`.

        escnn builds every (N, N) block of Psi_l as ``sum_d theta_l[ko, ki, d] basis[d]``. Scaling the block's rows
        (output relaxation) or columns (input relaxation) by w_l commutes with that sum, so the L banks fold into
        one contraction over (l, d) against the scaled bases ``w_l * basis`` (L*D, N, N): one (N, N) block per
        field pair is written once, instead of L dense matrices that are then scaled and added.
        """
        n, d = self.group_order, self._block_dim
        basis = self._block_basis()  # (D, N(out), N(in))
        if self.relax_on == "output":
            scaled = w[:, None, :, None] * basis[None]  # (L, D, N, N): row g of every basis block times w_l(g)
        else:
            scaled = w[:, None, None, :] * basis[None]
        theta = torch.stack([bank.weights.view(-1, d) for bank in self.banks], dim=1)  # (K_out*K_in, L, D)
        blocks = theta.reshape(theta.shape[0], -1) @ scaled.reshape(-1, n * n)  # (K_out*K_in, N*N)
        k_out, k_in = self.out_type.size // n, self.in_type.size // n
        weight = rearrange(blocks, "(ko ki) (o i) -> (ko o) (ki i)", ko=k_out, ki=k_in, o=n, i=n)
        biases = [bank.bias_expansion @ bank.bias for bank in self.banks if bank.bias is not None]
        if not biases:
            return weight, None
        if self.relax_on == "output":
            bias = sum(w[l].repeat(k_out) * b for l, b in enumerate(biases))
        else:
            bias = sum(biases)
        return weight, bias

    def _block_basis(self) -> torch.Tensor:
        """escnn's sampled basis of the one (regular, regular) block of bank 0, (D, N, N) (shared by all banks)."""
        expansion = self.banks[0].basisexpansion
        pair = expansion._representations_pairs[0]
        basis = getattr(expansion, f"block_expansion_{expansion._escape_pair(pair)}").sampled_basis
        return basis.reshape(basis.shape[0], self.group_order, self.group_order)

    def _init_regular_blocks(self) -> None:
        """Use :meth:`_fold_regular_blocks` only if escnn's expansion has the layout it assumes (one regular ->
        regular pair) and it reproduces escnn's own expansion on this layer's initial weights."""
        self._regular_blocks, self._block_dim = False, 0
        expansion = self.banks[0].basisexpansion
        pairs = getattr(expansion, "_representations_pairs", None)
        reg = self.in_type.gspace.fibergroup.regular_representation.name
        if pairs != [(reg, reg)]:
            return
        try:
            self._block_dim = self._block_basis().shape[0]
            w = torch.rand(len(self.banks), self.group_order)
            with torch.no_grad():
                fast, generic = self._fold_regular_blocks(w), self._fold_banks(w)
        except (AttributeError, RuntimeError, ValueError):
            return
        same_bias = (fast[1] is None) == (generic[1] is None) and (
            fast[1] is None or torch.allclose(fast[1], generic[1], atol=1e-6))
        self._regular_blocks = torch.allclose(fast[0], generic[0], atol=1e-6) and same_bias

    def exact_elements(self) -> set[int]:
        """The subgroup K with ``coset_index`` (the coset of the identity), else the identity only."""
        if self.coset_map is not None:
            return {h for h, c in enumerate(self.coset_map.tolist()) if c == int(self.coset_map[0])}
        return {0}

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * sum_l sum_{g,h} |w_l(g) - w_l(h)|``."""
        w = self.element_weights()
        return self.alpha * (w[:, :, None] - w[:, None, :]).abs().sum()


class ResidualLinear(GroupLinear, Penalised):
    """An equivariant layer plus an unconstrained ``nn.Linear`` started at zero, with L2 prior ``beta``."""

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, relax_on: str | None = None,
                 bias: bool = True, beta: float = 0.0):
        super().__init__(in_type, out_type, relax_on, bias)
        self.beta = beta
        self.residual = nn.Linear(in_type.size, out_type.size, bias=False)
        nn.init.zeros_(self.residual.weight)

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``beta * ||R||^2``."""
        assert self.residual is not None
        return self.beta * self.residual.weight.pow(2).sum()


LayerFactory = Callable[..., GroupLinear]  # (in_type, out_type, relax_on=..., bias=...) -> a group-linear layer


def group_linear_layers(module: nn.Module) -> list[tuple[str, GroupLinear]]:
    """(dotted name, layer) of every :class:`GroupLinear` in ``module``, in ``named_modules`` order."""
    return modules_of(module, GroupLinear)


def expand_equivariant_state(state: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """Map a checkpoint of exact layers (1 bank) onto ``target``'s relaxed layers (L banks): every bank gets the
    exact layer's weights and w_l(h) = 1/L, so the relaxed model computes exactly the same function."""
    out = dict(state)
    for name, layer in modules_of(target, RelaxedLinear):
        prefix = f"{name}." if name else ""
        if f"{prefix}banks.0.weights" not in state or f"{prefix}banks.1.weights" in state:
            continue  # not in the checkpoint, or already relaxed
        n_banks = len(layer.banks)
        for key in [k for k in state if k.startswith(f"{prefix}banks.0.")]:
            value = state[key]
            if layer.relax_on == "input" and key == f"{prefix}banks.0.bias":
                value = value / n_banks  # each bank adds its bias once: L banks of b/L add up to b
            for l in range(n_banks):
                out[key.replace(f"{prefix}banks.0.", f"{prefix}banks.{l}.", 1)] = value.clone()
        # with w_l(h) = 1/L: sum_l w_l (Psi x) = Psi x on the output side, sum_l Psi(x / L) = Psi x on the input side
        out[f"{prefix}relax_weights"] = torch.full(tuple(layer.relax_weights.shape), 1.0 / n_banks)
    return out


__all__ = ["EquivariantLinear", "GroupLinear", "LayerFactory", "RelaxedLinear", "ResidualLinear",
           "expand_equivariant_state", "group_linear_layers"]
