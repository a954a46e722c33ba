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
  the free path is paid for only in the states where it is switched on, and the data decide where that is.

The encoder returns ``(c_equi, c_free, g)``; the denoiser takes that triple as its condition. ``last_gate`` holds
the gates (B,) of the encoder's last call (the penalty of a training step reads it; diagnostics average it per
region).
"""
from __future__ import annotations

import math

import torch
from torch import nn

GATE_INIT = 0.5  # the gate's value everywhere at initialisation (the free path's scale starts at 0 anyway)


class GatedEncoder(nn.Module):
    """obs {k: (B, To, ...)} -> (c_equi (B, ...), c_free (B, free_dim), gate (B,))."""

    def __init__(self, equi: nn.Module, free: nn.Module, free_dim: int, gate_init: float = GATE_INIT):
        super().__init__()
        self.equi, self.free = equi, free
        self.gate = nn.Linear(free_dim, 1)
        with torch.no_grad():
            self.gate.weight.zero_()
            self.gate.bias.fill_(math.log(gate_init / (1 - gate_init)))
        self.last_gate: torch.Tensor | None = None

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c_free = self.free(obs)
        gate = torch.sigmoid(self.gate(c_free)).squeeze(-1)
        self.last_gate = gate
        return self.equi(obs, generator), c_free, gate


class GatedDenoiser(nn.Module):
    """(noisy (B, T, A), t (B,), (c_equi, c_free, gate)) -> eps_equi + gate * scale * eps_free, (B, T, A)."""

    def __init__(self, equi: nn.Module, free: nn.Module):
        super().__init__()
        self.equi, self.free = equi, free
        self.free_scale = nn.Parameter(torch.ones(()))
        with torch.no_grad():
            output_layer(free).weight.zero_()
            output_layer(free).bias.zero_()

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
                ) -> torch.Tensor:
        c_equi, c_free, gate = cond
        out = self.equi(noisy, t, c_equi)
        return out + (gate * self.free_scale)[:, None, None] * self.free(noisy, t, c_free)


def output_layer(net: nn.Module) -> nn.Linear | nn.Conv1d:
    """The last linear or 1x1-convolution layer of a plain denoiser (the one that writes its output)."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
    return layers[-1]


def gate_penalty(encoder: GatedEncoder, alpha: float) -> torch.Tensor | None:
    """``alpha`` times the mean gate of the encoder's last call (None before any call)."""
    if encoder.last_gate is None:
        return None
    return alpha * encoder.last_gate.mean()


__all__ = ["GATE_INIT", "GatedDenoiser", "GatedEncoder", "gate_penalty", "output_layer"]
