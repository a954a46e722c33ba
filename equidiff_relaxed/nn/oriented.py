"""The canonical frame plus a learned correction that depends on the absolute orientation.

    cond(o) = c(R(-phi) o) + delta(phi),   delta(phi) = MLP(cos k phi, sin k phi; k = 1..K), its last layer at zero

- ``c``: the plain encoder in the observation's canonical frame (:mod:`equidiff_relaxed.nn.canonical`): exactly
  equivariant under every rotation, and as sample-efficient as the canonical family, since every demo, whatever its
  orientation, teaches the same function of the canonical observation;
- ``phi``: the canonical angle (the world direction of the frame-fixing position, e.g. the puck, about the symmetry
  centre), i.e. where in the world the state is; ``delta(phi)`` adds to the features the denoiser is conditioned on
  (in the canonical frame), so it can change the behaviour as a function of where the state is, with the whole
  trained canonical denoiser behind it: a break is learnt as a correction of the symmetric policy, not by a second
  network from scratch;
- at initialisation ``delta = 0``, so the policy is the canonical one, exactly equivariant; the penalty is on the
  correction's *activations*, ``alpha * mean_batch ||delta(phi)||^2``, so the policy pays for a break only in the
  states where it breaks, and the data decide where that is.

The encoder returns ``(cond (B, C), phi (B,))``, what :class:`~equidiff_relaxed.nn.canonical.CanonicalDenoiser`
takes. It is :class:`~equidiff_relaxed.nn.penalty.Penalised` (its penalty covers the batch of its last call) and a
:class:`~equidiff_relaxed.nn.penalty.GateReporter` (its gate: the correction's share of the condition,
``||delta|| / (||c|| + ||delta||)`` in [0, 1), which diagnostics report per region).
"""
from __future__ import annotations

import torch
from torch import nn

from equidiff_relaxed.nn.canonical import CanonicalEncoder
from equidiff_relaxed.nn.penalty import GateReporter, Penalised


class OrientedEncoder(nn.Module, Penalised, GateReporter):
    """Normalised obs {k: (B, To, ...)} -> (canonical features + delta(phi) (B, C), phi (B,)) (see the module
    docstring); ``width``: the correction MLP's hidden width; ``harmonics``: K, the Fourier features of phi it
    sees (1: cos phi, sin phi; more let it change more sharply with the orientation); ``alpha``: its activation
    penalty."""

    def __init__(self, canonical: CanonicalEncoder, feature_dim: int, width: int = 64, alpha: float = 0.0,
                 harmonics: int = 1):
        super().__init__()
        self.canonical, self.alpha = canonical, alpha
        self.register_buffer("frequencies", torch.arange(1, harmonics + 1, dtype=torch.float32), persistent=False)
        self.correction = nn.Sequential(nn.Linear(2 * harmonics, width), nn.Mish(), nn.Linear(width, width),
                                        nn.Mish(), nn.Linear(width, feature_dim))
        with torch.no_grad():
            self.correction[-1].weight.zero_()
            self.correction[-1].bias.zero_()
        self._last_delta: torch.Tensor | None = None

    def _delta(self, phi: torch.Tensor) -> torch.Tensor:
        angles = phi[:, None] * self.frequencies  # (B, K)
        return self.correction(torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1))

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        features, phi = self.canonical(obs, generator)
        delta = self._delta(phi)
        self._last_delta = delta
        return features + delta, phi

    def gate_value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) the correction's share of the condition, ``||delta|| / (||c|| + ||delta||)``."""
        features, phi = self.canonical(obs)
        delta = self._delta(phi).norm(dim=-1)
        return delta / (features.norm(dim=-1) + delta).clamp_min(1e-12)

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * mean ||delta(phi)||^2`` over the batch of the last call (0 before any call)."""
        if self._last_delta is None:
            return self.correction[-1].bias.new_zeros(())
        return self.alpha * self._last_delta.pow(2).sum(-1).mean()


__all__ = ["OrientedEncoder"]
