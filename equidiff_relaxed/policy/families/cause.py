"""``cause_equi``: exactly equivariant in (observation, cause): the world-fixed cause of the break, declared in
shape_meta's ``breaking`` section (e.g. push-wall's wall), is fed as a constant observation field that does not turn
with the scene, so the policy is equivariant only when the cause turns too."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register


@dataclass(frozen=True)
class CauseOptions:
    """Options of the cause_equi family.

    Args:
        breaking_inputs: which of shape_meta's breaking fields to feed (default: all of them).
    """

    breaking_inputs: list[str] | None = None


class CauseFamily(Family):
    options = CauseOptions
    starts_exact = group_axis = True

    def fixed_inputs(self, meta: Any, options: Any) -> dict[str, tuple[Any, tuple[float, ...]]]:
        names = list(options.breaking_inputs) if options.breaking_inputs is not None else list(meta.breaking)
        missing = [n for n in names if n not in meta.breaking]
        if missing or not names:
            declared = ", ".join(meta.breaking) or "none"
            what = f"breaking input(s) {', '.join(map(repr, missing))} not" if missing else "no breaking input"
            raise ValueError(f"{what} declared in the dataset's shape_meta (declared: {declared})")
        return {n: meta.breaking[n] for n in names}

    def build(self, ctx: Any) -> tuple[Any, Any]:
        return ctx.group_folded()


CAUSE_EQUI = register(CauseFamily("cause_equi", "exactly equivariant in (observation, cause): the world-fixed cause "
                                  "of the break (shape_meta breaking) as an input"))
