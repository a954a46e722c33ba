"""``canonical``: plain networks in a frame fixed by the observation itself (Canonical Policy, 2025): the observation is
turned so that one declared position points along x, the plain networks act there, and the prediction is turned
back. Exactly equivariant under every planar rotation, not only a finite group."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register


@dataclass(frozen=True)
class CanonicalOptions:
    """Options of the canonical family.

    Args:
        canonical_from: the position whose direction from the symmetry centre fixes the frame (default: the first
            pos2/pos3 observation that is not relative_to).
    """

    canonical_from: str | None = None


def canonical_networks(ctx: Any, family: str) -> tuple[Any, Any]:
    """(CanonicalEncoder, CanonicalDenoiser): the build context's plain networks in the frame of
    ``ctx.options.canonical_from``, for every family whose exact path is the canonical frame (``family`` names the
    one asking in the normaliser error)."""
    from equidiff_relaxed.nn.canonical import CanonicalDenoiser, CanonicalEncoder, Canonicalizer

    frame = Canonicalizer(ctx.meta, ctx.options.canonical_from, ctx.action, ctx.config.relative_to)
    ctx.require_symmetric_normalizer(family)
    encoder, denoiser = ctx.plain()
    return CanonicalEncoder(encoder, frame), CanonicalDenoiser(denoiser, frame)


class CanonicalFamily(Family):
    options = CanonicalOptions
    exact = starts_exact = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        return canonical_networks(ctx, self.name)


CANONICAL = register(CanonicalFamily("canonical", "plain networks in the observation's canonical frame: exactly "
                                     "SO(2)-equivariant"))
