"""``subgroup``: relaxed group convolutions whose weights are shared within the cosets of a subgroup C_M < C_N: exactly
C_M-equivariant at every parameter value, relaxed only between the cosets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import register
from equidiff_relaxed.policy.families.relaxed import RelaxedFamily, RelaxedOptions


@dataclass(frozen=True)
class SubgroupOptions(RelaxedOptions):
    """Options of the subgroup family (and the relaxed family's).

    Args:
        subgroup_order: M of the exact subgroup C_M < C_N (default N / 2); must divide the group order.
    """

    subgroup_order: int | None = None

    def validate(self) -> None:
        super().validate()
        if self.subgroup_order is not None and (not isinstance(self.subgroup_order, int)
                                                or isinstance(self.subgroup_order, bool) or self.subgroup_order < 1):
            raise ValueError(f"subgroup_order must be an integer >= 1, got {self.subgroup_order!r}")


class SubgroupFamily(RelaxedFamily):
    options = SubgroupOptions

    def check(self, options: Any, config: Any) -> None:
        super().check(options, config)
        if options.subgroup_order is not None and config.group_order % options.subgroup_order:
            raise ValueError(f"subgroup_order {options.subgroup_order} must divide group_order {config.group_order}")

    def coset_index(self, ctx: Any) -> list[int] | None:
        m = ctx.options.subgroup_order
        return ctx.group.coset_index(ctx.group.subgroup(m if m is not None else max(1, ctx.config.group_order // 2)))


SUBGROUP = register(SubgroupFamily("subgroup", "exact under C_M < C_N, relaxed across its cosets (M = subgroup_order)"))
