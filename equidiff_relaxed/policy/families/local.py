"""``local``: plain networks averaged over a learned, state-dependent neighbourhood of C_N: the whole group average at
initialisation (exactly C_N-equivariant), narrowing towards the plain network where the data pull it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register


@dataclass(frozen=True)
class LocalOptions:
    """Options of the local family.

    Args:
        local_alpha: the penalty on the mean |kappa(o)|, how far the average narrows.
        local_elements: the K group elements nearest the identity that are averaged (default: all N).
        local_conditioned: kappa from the observation (false: one global kappa).
    """

    local_alpha: float = 1e-3
    local_elements: int | None = None
    local_conditioned: bool = True

    def validate(self) -> None:
        if not isinstance(self.local_alpha, (int, float)) or not self.local_alpha >= 0:
            raise ValueError(f"local_alpha must be a number >= 0, got {self.local_alpha!r}")
        if self.local_elements is not None and (not isinstance(self.local_elements, int)
                                                or isinstance(self.local_elements, bool) or self.local_elements < 1):
            raise ValueError(f"local_elements must be an integer >= 1, got {self.local_elements!r}")


class LocalFamily(Family):
    options = LocalOptions
    starts_exact = group_axis = True

    def check(self, options: Any, config: Any) -> None:
        super().check(options, config)
        if options.local_elements is not None and options.local_elements > config.group_order:
            raise ValueError(f"local_elements {options.local_elements} is wider than the group C_{config.group_order} "
                             f"({config.group_order} elements)")

    def build(self, ctx: Any) -> tuple[Any, Any]:
        from equidiff_relaxed.nn.local import LocalDenoiser, LocalEncoder, neighbourhood_angles

        o, cfg = ctx.options, ctx.config
        ctx.require_symmetric_normalizer(self.name)
        encoder, denoiser = ctx.plain()
        angles = neighbourhood_angles(cfg.group_order, o.local_elements)
        return (LocalEncoder(encoder, ctx.meta, angles, cfg.encoder_dim, o.local_conditioned, o.local_alpha),
                LocalDenoiser(denoiser, ctx.action, angles))


LOCAL = register(LocalFamily("local", "plain networks averaged over a learned, state-dependent neighbourhood of C_N"))
