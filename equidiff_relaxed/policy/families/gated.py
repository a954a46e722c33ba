"""``gated``: an exactly equivariant path (the group-folded networks, or with ``gate_exact: canonical`` plain networks in
the observation's canonical frame, or with ``gate_exact: oriented`` the oriented family's canonical networks and
orientation correction) plus a free path (plain networks on the raw observation) that a state-dependent
gate switches on, with a sparsity penalty on the gate's activations (PERL / PEnGUiN style), so the free path is paid
for only in the states where it is on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register
from equidiff_relaxed.policy.families.canonical import canonical_networks
from equidiff_relaxed.policy.families.orientation import OrientedOptions, oriented_networks

EXACT_PATHS = ("equivariant", "canonical", "oriented")


@dataclass(frozen=True)
class GatedOptions(OrientedOptions):
    """Options of the gated family.

    Args:
        gate_exact: the exact path: equivariant (the group-folded networks of the equi family), canonical (the
            canonical family's plain networks in the observation's own frame, exact under every rotation; its frame
            from canonical_from) or oriented (the oriented family's networks: canonical plus the penalised
            orientation correction, with its orient_* options; exact at initialisation only).
        gate_mix: add (the exact path plus the gated, scaled free path) or convex ((1 - g) exact + g free: where the
            gate opens the free path takes the state over and the exact path stops learning from it).
        gate_alpha: the weight of the penalty (>= 0).
        gate_penalty: what it is on: gate (the mean gate activation) or contribution (the mean square of what the
            free path adds to the prediction: a break paid for by how much it changes the policy).
        gate_init: the gate's value everywhere at initialisation, in (0, 1).
        gate_warmup: the gate penalty ramps up linearly over this fraction of the run, in [0, 1].
    """

    gate_alpha: float = 1e-2
    gate_init: float = 0.5
    gate_warmup: float = 0.25
    gate_exact: str = "equivariant"
    gate_mix: str = "add"
    gate_penalty: str = "gate"

    def validate(self) -> None:
        super().validate()
        if self.gate_mix not in ("add", "convex"):
            raise ValueError(f"unknown gate_mix {self.gate_mix!r} (known: add, convex)")
        if self.gate_penalty not in ("gate", "contribution"):
            raise ValueError(f"unknown gate_penalty {self.gate_penalty!r} (known: gate, contribution)")
        if self.gate_exact not in EXACT_PATHS:
            raise ValueError(f"unknown gate_exact {self.gate_exact!r} (known: {', '.join(EXACT_PATHS)})")
        if not isinstance(self.gate_alpha, (int, float)) or not self.gate_alpha >= 0:
            raise ValueError(f"gate_alpha must be a number >= 0, got {self.gate_alpha!r}")
        if not isinstance(self.gate_init, (int, float)) or not 0 < self.gate_init < 1:
            raise ValueError(f"gate_init must be a number in (0, 1), got {self.gate_init!r}")
        if not isinstance(self.gate_warmup, (int, float)) or not 0 <= self.gate_warmup <= 1:
            raise ValueError(f"gate_warmup must be a number in [0, 1], got {self.gate_warmup!r}")


class GatedFamily(Family):
    options = GatedOptions
    starts_exact = group_axis = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        from equidiff_relaxed.nn.gated import GatedDenoiser, GatedEncoder

        o = ctx.options
        if o.gate_exact == "canonical":
            encoder, denoiser = canonical_networks(ctx, f"{self.name} (gate_exact canonical)")
        elif o.gate_exact == "oriented":
            encoder, denoiser = oriented_networks(ctx, f"{self.name} (gate_exact oriented)")
        else:
            encoder, denoiser = ctx.group_folded()
        free_encoder, free_denoiser = ctx.plain()
        on_gate = o.gate_penalty == "gate"
        return (GatedEncoder(encoder, free_encoder, ctx.config.encoder_dim, o.gate_init,
                             o.gate_alpha if on_gate else 0.0, o.gate_warmup),
                GatedDenoiser(denoiser, free_denoiser, o.gate_mix, 0.0 if on_gate else o.gate_alpha, o.gate_warmup))


GATED = register(GatedFamily("gated", "equivariant plus a free path a state-dependent gate switches on (sparse)"))
