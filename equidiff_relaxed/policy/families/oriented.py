"""``oriented``: the canonical family plus a learned, penalised correction that depends on where in the world the
state is (its absolute orientation): exactly equivariant at initialisation and as sample-efficient as the canonical
family where nothing breaks; a break is a small orientation-dependent correction of the symmetric policy, paid for
only in the states that need it (:mod:`equidiff_relaxed.nn.oriented`)."""
from __future__ import annotations

from typing import Any

from equidiff_relaxed.policy.families.base import Family, register
from equidiff_relaxed.policy.families.orientation import OrientedOptions, oriented_networks


class OrientedFamily(Family):
    options = OrientedOptions
    starts_exact = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        return oriented_networks(ctx, self.name)


ORIENTED = register(OrientedFamily("oriented", "the canonical frame plus a penalised correction that depends on the "
                                   "absolute orientation: exact at start, breaks where the data call for it"))
