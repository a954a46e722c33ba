"""The orientation correction's options and networks, shared by the ``oriented`` family and the gated family's
``gate_exact: oriented`` path: the canonical networks plus a penalised correction that depends on the absolute
orientation (:mod:`equidiff_relaxed.nn.oriented`). Registers nothing (the families that use it do), so importing it
leaves the registry's order - the order of tables, legends and colours - as the families' own modules set it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.canonical import CanonicalOptions, canonical_networks


@dataclass(frozen=True)
class OrientedOptions(CanonicalOptions):
    """Options of the oriented family (and the canonical family's).

    Args:
        orient_alpha: the penalty on the orientation correction's activations, alpha * mean ||delta(phi)||^2 (>= 0).
        orient_width: the hidden width of the correction's MLP on the orientation's Fourier features.
        orient_harmonics: K, the Fourier features (cos k phi, sin k phi), k = 1..K, of the orientation the correction
            sees (1: the direction alone; more: sharper changes with the orientation).
        orient_mode: where the orientation enters: condition (a correction of the canonical encoder's features,
            from an MLP of width orient_width) or input (extra inputs of the canonical encoder's first layer).
        orient_sees: what the correction sees: angle (the orientation alone) or state (the orientation and the
            world-frame low-dim observation).
        orient_prior_demos: 0 for a fixed orient_alpha, or the number of training demos orient_alpha is meant for:
            with n demos the penalty weighs orient_alpha * orient_prior_demos / n (a prior against a mean loss).
    """

    orient_alpha: float = 1e-3
    orient_width: int = 64
    orient_harmonics: int = 1
    orient_mode: str = "condition"
    orient_sees: str = "angle"
    orient_prior_demos: int = 0

    def validate(self) -> None:
        if not isinstance(self.orient_alpha, (int, float)) or not self.orient_alpha >= 0:
            raise ValueError(f"orient_alpha must be a number >= 0, got {self.orient_alpha!r}")
        if self.orient_mode not in ("condition", "input"):
            raise ValueError(f"unknown orient_mode {self.orient_mode!r} (known: condition, input)")
        if self.orient_sees not in ("angle", "state"):
            raise ValueError(f"unknown orient_sees {self.orient_sees!r} (known: angle, state)")
        if not isinstance(self.orient_prior_demos, int) or isinstance(self.orient_prior_demos, bool) \
                or self.orient_prior_demos < 0:
            raise ValueError(f"orient_prior_demos must be an integer >= 0, got {self.orient_prior_demos!r}")
        for name in ("orient_width", "orient_harmonics"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def oriented_networks(ctx: Any, family: str) -> tuple[Any, Any]:
    """(OrientedEncoder, CanonicalDenoiser): the canonical networks of ``ctx`` with the orientation correction of
    ``ctx.options`` (an :class:`OrientedOptions`), for every family whose exact path is the oriented one (``family``
    names the one asking in error messages)."""
    from equidiff_relaxed.nn.oriented import OrientedEncoder

    o = ctx.options
    encoder, denoiser = canonical_networks(ctx, family)
    state_dim = ctx.config.n_obs_steps * sum(ctx.meta.obs[k].shape[0] for k in ctx.meta.low_dim_keys)
    oriented = OrientedEncoder(encoder, ctx.config.encoder_dim, o.orient_width, o.orient_alpha, o.orient_harmonics,
                               o.orient_mode, o.orient_sees, state_dim, o.orient_prior_demos)
    return oriented, denoiser


__all__ = ["OrientedOptions", "oriented_networks"]
