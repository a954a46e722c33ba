"""The canonical frame plus a learned correction that depends on the absolute orientation.

    cond(o) = c(R(-phi) o) + delta(phi),   delta(phi) = MLP(cos k phi, sin k phi; k = 1..K), its last layer at zero

or, with ``mode="input"``, the orientation enters the canonical encoder's first layer beside the canonical
observation, ``h1 = W x(R(-phi) o) + delta(phi)`` with ``delta(phi) = V (cos k phi, sin k phi; k = 1..K)``, V started
at zero, so the encoder can combine where the state is with what it looks like from its first layer on. With
``sees="state"`` the correction's MLP also sees the world-frame observation (its low-dim fields, normalised): a
break caused by something fixed in the world (a wall) is simplest to describe there.

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
from equidiff_relaxed.nn.penalty import DataSized, GateReporter, Penalised


class OrientedEncoder(nn.Module, Penalised, GateReporter, DataSized):
    """Normalised obs {k: (B, To, ...)} -> (canonical features + delta(phi) (B, C), phi (B,)) (see the module
    docstring); ``width``: the correction MLP's hidden width; ``harmonics``: K, the Fourier features of phi it
    sees (1: cos phi, sin phi; more let it change more sharply with the orientation); ``alpha``: its activation
    penalty; ``prior_demos``: 0 for a fixed ``alpha``, or the number of training episodes ``alpha`` is meant for —
    the penalty is a prior and the loss a mean over the data, so with n episodes the penalty weighs
    ``alpha * prior_demos / n`` (stronger with fewer demos, where a correction would fit noise)."""

    def __init__(self, canonical: CanonicalEncoder, feature_dim: int, width: int = 64, alpha: float = 0.0,
                 harmonics: int = 1, mode: str = "condition", sees: str = "angle", state_dim: int = 0,
                 prior_demos: int = 0):
        super().__init__()
        self.prior_demos, self.prior_scale = prior_demos, 1.0
        if mode not in ("condition", "input"):
            raise ValueError(f"unknown orientation mode {mode!r} (known: condition, input)")
        if sees not in ("angle", "state"):
            raise ValueError(f"unknown orientation input {sees!r} (known: angle, state)")
        self.canonical, self.alpha, self.mode, self.sees = canonical, alpha, mode, sees
        self.register_buffer("frequencies", torch.arange(1, harmonics + 1, dtype=torch.float32), persistent=False)
        in_dim = 2 * harmonics + (state_dim if sees == "state" else 0)
        if mode == "condition":
            self.correction = nn.Sequential(nn.Linear(in_dim, width), nn.Mish(), nn.Linear(width, width),
                                            nn.Mish(), nn.Linear(width, feature_dim))
        else:  # the canonical encoder's first layer gets the orientation's features as extra inputs
            first = canonical.plain.mlp[0]
            self.correction = nn.Sequential(nn.Linear(in_dim, first.out_features, bias=False))
        with torch.no_grad():
            self.correction[-1].weight.zero_()
            if self.correction[-1].bias is not None:
                self.correction[-1].bias.zero_()
        self._last_delta: torch.Tensor | None = None

    def _delta(self, phi: torch.Tensor, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        angles = phi[:, None] * self.frequencies  # (B, K)
        parts = [torch.cos(angles), torch.sin(angles)]
        if self.sees == "state":  # the world-frame low-dim observation, flattened
            parts += [obs[k].reshape(len(phi), -1) for k in self.canonical.plain.low_dim_keys]
        return self.correction(torch.cat(parts, dim=-1))

    def _encode(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(cond, phi, delta, the part delta adds to): the condition, the angle, the correction and the symmetric
        term it is added to (the canonical features, or the first layer's pre-activations)."""
        frame = self.canonical.frame
        phi = frame.angle(obs)
        canonical_obs = frame.obs(obs, phi)
        delta = self._delta(phi, obs)
        plain = self.canonical.plain
        if self.mode == "condition":
            features = plain(canonical_obs, generator)
            return features + delta, phi, delta, features
        pre = plain.mlp[0](plain.inputs(canonical_obs, generator))
        h = pre + delta
        for layer in plain.mlp[1:]:
            h = layer(h)
        return h, phi, delta, pre

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        cond, phi, delta, _ = self._encode(obs, generator)
        self._last_delta = delta
        return cond, phi

    def gate_value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) the correction's share of what it is added to, ``||delta|| / (||symmetric term|| + ||delta||)``."""
        _, _, delta, base = self._encode(obs)
        d = delta.norm(dim=-1)
        return d / (base.norm(dim=-1) + d).clamp_min(1e-12)

    def set_training_episodes(self, n: int) -> None:
        """With ``prior_demos`` > 0 the penalty's weight becomes ``alpha * prior_demos / n`` for ``n`` training
        episodes (it stays ``alpha`` until this is called, e.g. for a policy built without data)."""
        self.prior_scale = self.prior_demos / max(int(n), 1) if self.prior_demos else 1.0

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * prior_scale * mean ||delta(phi)||^2`` over the batch of the last call (0 before any call)."""
        if self._last_delta is None:
            return self.correction[-1].weight.new_zeros(())
        return self.alpha * self.prior_scale * self._last_delta.pow(2).sum(-1).mean()


__all__ = ["OrientedEncoder"]
