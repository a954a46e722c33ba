"""Local equivariance: a plain policy averaged over a learned, state-dependent neighbourhood of group elements.

    eps(x, t, o) = sum_k w_k(o) * g_k . f(g_k^-1 . x, t, g_k^-1 . o),    w(o) = softmax_k(-kappa(o) * (1 - cos theta_k))

- ``f``: plain encoder + plain denoiser (no group axis); ``g_k``: the K elements of C_N nearest the identity
  (``local_elements``, default all N), rotations by ``theta_k`` about the symmetry centre, applied in normalised space
  (the symmetric normalizer centres positions there) to every declared field of the observation and to the noisy
  actions, and back to the prediction;
- ``kappa(o) = softplus(a(o)) - log 2``, ``a(o) = v . f_enc(o) + b`` from the plain features of the *unrotated*
  observation (non-invariant: it sees where the state is), ``v = b = 0`` at initialisation, so ``kappa = 0`` and the
  weights are uniform: with K = N the policy starts as the group average of ``f``, exactly C_N-equivariant; where the
  data pull ``kappa`` up the average narrows towards the identity, i.e. towards the plain policy ``f`` itself;
  ``local_conditioned`` False keeps one global ``kappa`` (``v`` fixed at 0);
- the penalty is ``local_alpha * mean_batch |kappa(o)|`` (on the activations, as for the gated family).

The encoder returns ``(cond (K*B, C), weights (B, K))``. It is :class:`~equidiff_relaxed.nn.penalty.Penalised`
(the penalty covers the batch of its last call) and a :class:`~equidiff_relaxed.nn.penalty.GateReporter`: its gate
is how far each weight vector is from uniform, ``1 - H(w) / log K`` in [0, 1] (0: the full average, 1: one element
only), the quantity diagnostics report per region. Cost: K plain forward passes per network call.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from equidiff_relaxed.data.shape_meta import FieldMeta, ShapeMeta
from equidiff_relaxed.nn.penalty import GateReporter, Penalised
from equidiff_relaxed.symmetry.actions import transform_field


def neighbourhood_angles(group_order: int, elements: int | None) -> torch.Tensor:
    """(K,) rotation angles of the K elements of C_N nearest the identity, identity first (0, +1, -1, +2, ...)."""
    k = group_order if elements is None else elements
    if not 1 <= k <= group_order:
        raise ValueError(f"local_elements {k} is wider than the group C_{group_order} ({group_order} elements)"
                         if k > group_order else f"local_elements must be >= 1, got {k}")
    order = [0] + [s * i for i in range(1, group_order) for s in (1, -1)]
    steps = list(dict.fromkeys(i % group_order for i in order))[:k]
    return torch.tensor([2 * math.pi * i / group_order for i in steps], dtype=torch.float32)


def _repeat(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, ...) -> (K*B, ...), element-major (row k*B + i is copy k of sample i)."""
    return x.repeat(k, *([1] * (x.dim() - 1)))


class LocalEncoder(nn.Module, Penalised, GateReporter):
    """Normalised obs {k: (B, To, ...)} -> (cond (K*B, C) of the K rotated copies, weights (B, K)); ``alpha``: the
    penalty's weight on the mean |kappa(o)|."""

    def __init__(self, plain: nn.Module, meta: ShapeMeta, angles: torch.Tensor, feature_dim: int,
                 conditioned: bool = True, alpha: float = 0.0):
        super().__init__()
        if meta.top_down_keys:
            raise ValueError("the local family rotates observations by 2 pi / N; top-down images turn exactly only "
                             "by quarter turns: use a C_N family for image policies")
        self.plain, self.meta, self.conditioned = plain, meta, conditioned
        self.register_buffer("angles", angles, persistent=False)
        self.register_buffer("distance", 1 - torch.cos(angles), persistent=False)
        self.kappa_head = nn.Linear(feature_dim, 1)
        with torch.no_grad():
            self.kappa_head.weight.zero_()
            self.kappa_head.bias.zero_()
        self.kappa_head.weight.requires_grad_(conditioned)
        self.alpha = alpha
        self._last_kappa: torch.Tensor | None = None

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        k = len(self.angles)
        b = next(iter(obs.values())).shape[0]
        phi = self.angles.repeat_interleave(b)[:, None]  # (K*B, 1)
        rotated = {key: transform_field(_repeat(x, k), self.meta.obs[key].fields, -phi)
                   if key in self.meta.low_dim_keys else _repeat(x, k) for key, x in obs.items()}
        cond = self.plain(rotated)
        kappa = self._kappa(cond[:b])  # from the unrotated copy
        self._last_kappa = kappa
        return cond, self._weights(kappa)

    def _kappa(self, features: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.kappa_head(features)).squeeze(-1) - math.log(2.0)

    def _weights(self, kappa: torch.Tensor) -> torch.Tensor:
        return torch.softmax(-kappa[:, None] * self.distance[None], dim=-1)

    def gate_value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) how far the averaging weights are from uniform, ``1 - H(w(o)) / log K``."""
        k = len(self.angles)
        kappa = self._kappa(self.plain(obs))
        if k == 1:
            return torch.ones_like(kappa)
        weights = self._weights(kappa)
        entropy = -(weights * weights.clamp_min(1e-12).log()).sum(-1)
        return 1 - entropy / math.log(k)

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """``alpha * mean |kappa(o)|`` over the batch of the last call (0 before any call)."""
        if self._last_kappa is None:
            return self.kappa_head.bias.new_zeros(())
        return self.alpha * self._last_kappa.abs().mean()


class LocalDenoiser(nn.Module):
    """(noisy (B, T, A), t (B,), (cond (K*B, C), weights (B, K))) -> sum_k w_k g_k . f(g_k^-1 noisy), (B, T, A)."""

    def __init__(self, plain: nn.Module, action: FieldMeta, angles: torch.Tensor):
        super().__init__()
        self.plain, self.action = plain, action
        self.register_buffer("angles", angles, persistent=False)

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        features, weights = cond
        k, (b, horizon, dim) = len(self.angles), noisy.shape
        phi = self.angles.repeat_interleave(b)[:, None]
        x = transform_field(_repeat(noisy, k), self.action.fields, -phi)
        eps = transform_field(self.plain(x, _repeat(t.reshape(b), k), features), self.action.fields, phi)
        return torch.einsum("kbta,bk->bta", eps.reshape(k, b, horizon, dim), weights)


__all__ = ["LocalDenoiser", "LocalEncoder", "neighbourhood_angles"]
