"""The gated residual pathway: an exactly equivariant policy plus a free path that a state-dependent gate switches on.

    eps(x, t, o) = eps_equi(x, t, c_equi(o)) + g(o) * s * eps_free(x, t, c_free(o)),   g(o) in [0, 1]

- ``eps_equi``, ``c_equi``: the equivariant family's denoiser and encoder (group-folded, exact);
- ``c_free``: a plain encoder of the raw (normalised, world-frame) observation — it sees absolute positions, so it
  can tell one orientation region from another; ``eps_free``: a plain denoiser on it;
- ``g(o) = sigmoid(w . c_free(o) + b)``: the gate, from the same non-invariant features, started at ``gate_init``
  everywhere (``w = 0``); ``s``: a learned output scale of the free path (started at 1); the free denoiser's output
  layer starts at zero, so the policy is exactly equivariant at initialisation whatever the gate, while the free
  path still learns from the first step (its output layer's gradient is ``g * dL/deps``, not 0: a zero *scale*
  would block the free path's gradient, and the penalty would then shut the gate before the free path had learnt
  anything to open it for);
- the sparsity penalty is on the gate's *activations*: ``gate_alpha * mean_batch g(o)`` (PERL / PEnGUiN style), so
  the free path is paid for only in the states where it is switched on, and the data decide where that is; it ramps
  up linearly over the first ``gate_warmup`` of the run. A small gate does not mean a small free path, though: the
  free path's output (and ``s``) can grow to say as much through g = 0.03 as through g = 0.5. With
  ``penalty="contribution"`` the penalty is instead on what the free path adds to the prediction,
  ``gate_alpha * mean_batch mean_(T, A) (g s eps_free)^2`` (``g (eps_free - eps_equi)`` when convex), so a break is
  paid for by how much it changes the policy, whatever the gate's value.

With ``mix="convex"`` the two paths are mixed instead of added, ``eps = (1 - g(o)) eps_equi + g(o) eps_free`` (a
mixture of experts, no output scale): where the gate opens, the exact path stops learning from those states (its
gradient is scaled by ``1 - g``), so a break the free path takes over does not leak into the exact path's behaviour
everywhere else; the gate must then open fully to hand a state over. Still exactly equivariant at initialisation
(the gate is the same constant everywhere and the free path's output is 0).

The encoder returns ``(c_equi, c_free, g)``; the denoiser takes that triple as its condition. The encoder is
:class:`~equidiff_relaxed.nn.penalty.Penalised` (its penalty covers the batch of its last call) and a
:class:`~equidiff_relaxed.nn.penalty.GateReporter` (diagnostics average ``gate(o)`` per region).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from equidiff_relaxed.nn.penalty import GateReporter, Penalised

GATE_INIT = 0.5  # the gate's value everywhere at initialisation (the free path's scale starts at 0 anyway)


class GatedEncoder(nn.Module, Penalised, GateReporter):
    """obs {k: (B, To, ...)} -> (c_equi (B, ...), c_free (B, free_dim), gate (B,)). ``alpha``, ``warmup``: the
    gate penalty's weight and ramp (see the module docstring; ``alpha`` 0 when the penalty is on the free path's
    contribution, :class:`GatedDenoiser`'s)."""

    def __init__(self, equi: nn.Module, free: nn.Module, free_dim: int, gate_init: float = GATE_INIT,
                 alpha: float = 0.0, warmup: float = 0.0):
        super().__init__()
        self.equi, self.free = equi, free
        self.gate = nn.Linear(free_dim, 1)
        with torch.no_grad():
            self.gate.weight.zero_()
            self.gate.bias.fill_(math.log(gate_init / (1 - gate_init)))
        self.alpha, self.warmup = alpha, warmup
        self._last_gate: torch.Tensor | None = None

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c_free = self.free(obs)
        gate = torch.sigmoid(self.gate(c_free)).squeeze(-1)
        self._last_gate = gate
        return self.equi(obs, generator), c_free, gate

    def gate_value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) g(o) for normalised observation windows."""
        return torch.sigmoid(self.gate(self.free(obs))).squeeze(-1)

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * ramp * mean g(o)`` over the batch of the last call (0 before any call); the ramp rises from 0 to
        1 over the first ``warmup`` of training (``progress``: the fraction done)."""
        if self._last_gate is None:
            return self.gate.bias.new_zeros(())
        return self.alpha * warmup_ramp(progress, self.warmup) * self._last_gate.mean()


def warmup_ramp(progress: float, warmup: float) -> float:
    """A penalty's weight factor: rises linearly from 0 to 1 over the first ``warmup`` of training, then 1."""
    return min(1.0, progress / warmup) if warmup > 0 else 1.0


MIXES = ("add", "convex")


class GatedDenoiser(nn.Module, Penalised):
    """(noisy (B, T, A), t (B,), (c_equi, c_free, gate)) -> eps_equi + gate * scale * eps_free (``mix="add"``) or
    (1 - gate) * eps_equi + gate * eps_free (``mix="convex"``), (B, T, A). ``alpha``, ``warmup``: the weight and ramp
    of the penalty on the free path's contribution (0 when the penalty is on the gate, :class:`GatedEncoder`'s)."""

    def __init__(self, equi: nn.Module, free: nn.Module, mix: str = "add", alpha: float = 0.0, warmup: float = 0.0):
        super().__init__()
        if mix not in MIXES:
            raise ValueError(f"unknown gate mix {mix!r} (known: {', '.join(MIXES)})")
        self.equi, self.free, self.mix = equi, free, mix
        self.alpha, self.warmup = alpha, warmup
        if mix == "add":
            self.free_scale = nn.Parameter(torch.ones(()))
        with torch.no_grad():
            output_layer(free).weight.zero_()
            output_layer(free).bias.zero_()
        self._last_contribution: torch.Tensor | None = None

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
                ) -> torch.Tensor:
        c_equi, c_free, gate = cond
        out = self.equi(noisy, t, c_equi)
        if self.mix == "convex":
            contribution = gate[:, None, None] * (self.free(noisy, t, c_free) - out)
        else:
            contribution = (gate * self.free_scale)[:, None, None] * self.free(noisy, t, c_free)
        self._last_contribution = contribution
        return out + contribution

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * ramp * mean_batch mean_(T, A) contribution^2``, the free path's share of the last prediction
        (0 before any call or with ``alpha`` 0)."""
        if self._last_contribution is None or not self.alpha:
            return output_layer(self.free).weight.new_zeros(())
        return self.alpha * warmup_ramp(progress, self.warmup) * self._last_contribution.pow(2).mean()


def output_layer(net: nn.Module) -> nn.Linear | nn.Conv1d:
    """The last linear or 1x1-convolution layer of a plain denoiser (the one that writes its output)."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
    return layers[-1]


__all__ = ["GATE_INIT", "MIXES", "GatedDenoiser", "GatedEncoder", "output_layer", "warmup_ramp"]
