"""``relaxed``: relaxed group convolutions (Wang, Walters & Yu, ICML 2022) in every group-linear layer of the
group-folded networks: L equivariant banks and learnable weights w_l(h) per group element, equal at initialisation
(exactly equivariant), with an L1 prior alpha on their differences; w shows where the symmetry broke."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register

RELAX_WHERE = ("all", "encoder", "denoiser")  # which part's group-linear layers are relaxed (or residual)


def check_where(where: str) -> None:
    if where not in RELAX_WHERE:
        raise ValueError(f"unknown relax_where {where!r} (known: {', '.join(RELAX_WHERE)})")


@dataclass(frozen=True)
class RelaxedOptions:
    """Options of the relaxed families.

    Args:
        relax_banks: L, the relaxed layers' equivariant banks.
        relax_alpha: the L1 prior on the relaxation weights' differences, alpha * sum_l sum_{g,h} |w_l(g) - w_l(h)|.
        relax_where: which part's group-linear layers are relaxed: all, encoder or denoiser (the other stays exact).
    """

    relax_banks: int = 2
    relax_alpha: float = 1e-3
    relax_where: str = "all"

    def validate(self) -> None:
        if not isinstance(self.relax_banks, int) or isinstance(self.relax_banks, bool) or self.relax_banks < 1:
            raise ValueError(f"relax_banks must be an integer >= 1, got {self.relax_banks!r}")
        if not isinstance(self.relax_alpha, (int, float)) or not self.relax_alpha >= 0:
            raise ValueError(f"relax_alpha must be a number >= 0, got {self.relax_alpha!r}")
        check_where(self.relax_where)


class RelaxedFamily(Family):
    options = RelaxedOptions
    starts_exact = learns_breaking = group_axis = True

    def coset_index(self, ctx: Any) -> list[int] | None:
        """One weight per group element (the subgroup family shares them within cosets)."""
        return None

    def build(self, ctx: Any) -> tuple[Any, Any]:
        from equidiff_relaxed.nn.group_linear import RelaxedLinear
        from equidiff_relaxed.policy.networks import where_layers

        o = ctx.options
        layer = functools.partial(RelaxedLinear, banks=o.relax_banks, alpha=o.relax_alpha,
                                  coset_index=self.coset_index(ctx))
        return ctx.group_folded(*where_layers(o.relax_where, layer))


RELAXED = register(RelaxedFamily("relaxed", "relaxed group convolutions: starts equivariant, learns where to break"))
