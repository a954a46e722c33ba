"""Canonicalization: rotate the observation into a frame fixed by the observation itself, run plain networks there,
and rotate the prediction back (Canonical Policy, 2025). Exactly equivariant under every planar rotation about the
symmetry centre, not only under a finite group: the strongest simple competitor to the group-folded families.

The canonical angle of a sample is the direction, seen from the symmetry centre, of one declared planar position
(``canonical_from``, e.g. the push tasks' ``goal_pos``) at the last observed step. Everything happens in normalised
space, where the symmetric normalizer has centred every position on the symmetry centre with one scale for x and y,
so a rotation about the origin there is the rotation about the centre in the world:

    phi = atan2(p_y, p_x);   obs' = R(-phi) obs;   eps' = net(R(-phi) x_t, t, obs');   eps = R(phi) eps'

(the denoiser's input and output, noisy actions and their noise / velocity, turn with the frame too).
:class:`CanonicalEncoder` and :class:`CanonicalDenoiser` wrap the plain networks so, with the frame's angle carried in
the condition: the policy's noise and predictions stay in the world frame.
"""
from __future__ import annotations

import torch
from torch import nn

from equidiff_relaxed.data.shape_meta import FieldMeta, ShapeMeta
from equidiff_relaxed.symmetry.actions import transform_field

POSITIONS = ("pos2", "pos3")


class Canonicalizer:
    """Angles of the canonical frame and rotations into and out of it, for one policy's fields."""

    def __init__(self, meta: ShapeMeta, key: str | None, action: FieldMeta, relative_to: str | None = None):
        if meta.top_down_keys:
            raise ValueError("canonicalization rotates by any angle; top-down images turn exactly only by quarter "
                             "turns: use a C_N family for image policies")
        candidates = [k for k in meta.low_dim_keys if meta.obs[k].fields[0].rep in POSITIONS]
        if key is None:
            key = next((k for k in candidates if k != relative_to), candidates[0] if candidates else None)
        if key is None or key not in candidates:
            raise ValueError(f"canonical_from must name a pos2/pos3 observation (found: {', '.join(candidates)}), "
                             f"got {key!r}")
        self.meta, self.key, self.action = meta, key, action

    def angle(self, nobs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) canonical angle from normalised observations {k: (B, To, D)}."""
        p = nobs[self.key][:, -1, :2]
        return torch.atan2(p[:, 1], p[:, 0])

    def obs(self, nobs: dict[str, torch.Tensor], phi: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised low-dim observations rotated by ``-phi`` (B,); images (fixed cameras) unchanged."""
        return {k: transform_field(x, self.meta.obs[k].fields, -phi[:, None]) if k in self.meta.low_dim_keys else x
                for k, x in nobs.items()}

    def rotate_action(self, x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """A normalised action chunk (B, T, A) rotated by ``phi`` (B,)."""
        return transform_field(x, self.action.fields, phi[:, None])


class CanonicalEncoder(nn.Module):
    """Normalised obs {k: (B, To, ...)} -> (the plain encoder's condition in the canonical frame, phi (B,))."""

    def __init__(self, plain: nn.Module, frame: Canonicalizer):
        super().__init__()
        self.plain, self.frame = plain, frame

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        phi = self.frame.angle(obs)
        return self.plain(self.frame.obs(obs, phi), generator), phi


class CanonicalDenoiser(nn.Module):
    """(noisy (B, T, A) world frame, t (B,), (cond, phi)) -> R(phi) f(R(-phi) noisy, t, cond), (B, T, A)."""

    def __init__(self, plain: nn.Module, frame: Canonicalizer):
        super().__init__()
        self.plain, self.frame = plain, frame

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        features, phi = cond
        out = self.plain(self.frame.rotate_action(noisy, -phi), t, features)
        return self.frame.rotate_action(out, phi)


__all__ = ["CanonicalDenoiser", "CanonicalEncoder", "Canonicalizer"]
