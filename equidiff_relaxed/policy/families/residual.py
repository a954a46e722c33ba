"""``residual``: residual pathway priors (Finzi et al. 2021): every group-linear layer of the group-folded networks is
the equivariant map plus an unconstrained linear map started at zero, with an L2 prior beta on it."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register
from equidiff_relaxed.policy.families.relaxed import check_where


@dataclass(frozen=True)
class ResidualOptions:
    """Options of the residual family.

    Args:
        residual_beta: the L2 prior on the free pathway, beta * ||R||^2 (1e-2 was too weak at 10 demos).
        relax_where: which part's group-linear layers get a residual pathway: all, encoder or denoiser.
    """

    residual_beta: float = 1.0
    relax_where: str = "all"

    def validate(self) -> None:
        if not isinstance(self.residual_beta, (int, float)) or not self.residual_beta >= 0:
            raise ValueError(f"residual_beta must be a number >= 0, got {self.residual_beta!r}")
        check_where(self.relax_where)


class ResidualFamily(Family):
    options = ResidualOptions
    starts_exact = group_axis = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        from equidiff_relaxed.nn.group_linear import ResidualLinear
        from equidiff_relaxed.policy.networks import where_layers

        layer = functools.partial(ResidualLinear, beta=ctx.options.residual_beta)
        return ctx.group_folded(*where_layers(ctx.options.relax_where, layer))


RESIDUAL = register(ResidualFamily("residual", "equivariant plus an unconstrained residual pathway started at zero"))
