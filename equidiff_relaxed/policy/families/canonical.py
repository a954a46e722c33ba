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


class CanonicalFamily(Family):
    options = CanonicalOptions
    exact = starts_exact = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        from equidiff_relaxed.nn.canonical import CanonicalDenoiser, CanonicalEncoder, Canonicalizer

        frame = Canonicalizer(ctx.meta, ctx.options.canonical_from, ctx.action, ctx.config.relative_to)
        ctx.require_symmetric_normalizer(self.name)
        encoder, denoiser = ctx.plain()
        return CanonicalEncoder(encoder, frame), CanonicalDenoiser(denoiser, frame)


CANONICAL = register(CanonicalFamily("canonical", "plain networks in the observation's canonical frame: exactly "
                                     "SO(2)-equivariant"))
