"""``equi``: exactly C_N-equivariant networks, EquiDiff's group folding (irreps -> regular fields, one shared network
per group copy, projection back to the action's representation) with escnn's equivariant linear layers."""
from __future__ import annotations

from typing import Any

from equidiff_relaxed.policy.families.base import Family, register


class EquivariantFamily(Family):
    exact = starts_exact = group_axis = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        return ctx.group_folded()


EQUI = register(EquivariantFamily("equi", "exactly C_N-equivariant (EquiDiff-style group folding)"))
