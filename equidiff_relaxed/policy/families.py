"""The registry of model families: the one place that says which families exist and what each one is.

A family is a name a config selects (``model: relaxed``) plus how its group-linear layers behave
(:data:`equidiff_relaxed.nn.group_linear.KINDS`, checked when the layers are built), or ``None`` for networks with
no symmetry. This module imports nothing heavy, so reports and sweeps can read it without loading torch/escnn. The policy, the sweep
(names, order, colours), diagnostics and benchmarks read this registry; adding a family is one :func:`register`
call (and, if it needs a new kind of layer, that layer); a family of another package registers when its module is
imported, e.g. as a plug-in (:mod:`equidiff_relaxed.plugins`).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """``name``: the config value; ``layer_kind``: GroupLinear kind of every symmetric layer, None = plain
    networks (no group axis); ``description``: one line for help texts and reports; ``reflections``: the group is
    D_N (rotations and reflections across the dataset's axis) instead of C_N; ``subgroup``: the relaxation weights
    are shared within the cosets of the subgroup C_M (D_M) < C_N (D_N), M = ``subgroup_order``, so the model is
    exactly equivariant under the subgroup and relaxed only between its cosets; ``gated``: the equivariant networks
    plus a free path switched on by a state-dependent gate (:mod:`equidiff_relaxed.nn.gated`); ``canonical``: plain
    networks in a frame fixed by the observation (:mod:`equidiff_relaxed.policy.canonical`), exactly equivariant
    under every rotation; ``local``: plain networks averaged over a learned, state-dependent neighbourhood of group
    elements (:mod:`equidiff_relaxed.policy.local_equivariance`), exact at initialisation; ``cause``: the declared causes of the break (shape_meta ``breaking``) are fed as extra
    inputs, so the network is equivariant in (observation, cause) jointly."""

    name: str
    layer_kind: str | None
    description: str
    reflections: bool = False
    subgroup: bool = False
    gated: bool = False
    canonical: bool = False
    cause: bool = False
    local: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or "_from_" in self.name:
            raise ValueError(f"family name {self.name!r} must be an identifier without '_from_' (used by sweeps)")

    @property
    def symmetric(self) -> bool:
        """Built from group-folded networks (regular fields), whether exact, relaxed or residual."""
        return self.layer_kind is not None

    @property
    def starts_exact(self) -> bool:
        """Exactly equivariant at initialisation (group-folded, canonical or local): its equivariance error per region
        shows where training broke the symmetry."""
        return self.symmetric or self.canonical or self.local

    @property
    def exact(self) -> bool:
        """Exactly equivariant at every parameter value."""
        return (self.layer_kind == "equivariant" and not (self.gated or self.cause)) or self.canonical

    @property
    def learns_breaking(self) -> bool:
        """Has relaxation weights w_l(h) (relaxed group convolutions) to learn where symmetry breaks."""
        return self.layer_kind == "relaxed"

    @property
    def group_letter(self) -> str:
        """"D" for D_N families, "C" otherwise (the group a policy of this family is built for)."""
        return "D" if self.reflections else "C"


_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family`` (its name must be new); returns it."""
    if family.name in _REGISTRY:
        raise ValueError(f"model family {family.name!r} is already registered")
    _REGISTRY[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family (for tests and plug-ins that register temporary families)."""
    _REGISTRY.pop(name, None)


def family_names() -> tuple[str, ...]:
    """Registered family names, in registration order (the order of tables, legends and colours); plug-ins
    (:mod:`equidiff_relaxed.plugins`) are imported first."""
    from equidiff_relaxed.plugins import load_plugins

    load_plugins()
    return tuple(_REGISTRY)


def get_family(name: str) -> Family:
    """The family called ``name``; ValueError naming the known ones otherwise."""
    if name not in _REGISTRY:
        family_names()  # a plug-in may register it
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(_REGISTRY)})") from None


register(Family("plain", None, "no symmetry: MLP/CNN encoder and denoiser"))
register(Family("equi", "equivariant", "exactly C_N-equivariant (EquiDiff-style group folding)"))
register(Family("relaxed", "relaxed", "relaxed group convolutions: starts equivariant, learns where to break"))
register(Family("residual", "residual", "equivariant plus an unconstrained residual pathway started at zero"))
register(Family("subgroup", "relaxed", "exact under C_M < C_N, relaxed across its cosets (M = subgroup_order)",
                subgroup=True))
register(Family("dihedral_equi", "equivariant", "exactly D_N-equivariant: rotations and reflections",
                reflections=True))
register(Family("dihedral_relaxed", "relaxed", "relaxed D_N group convolutions: starts D_N-equivariant",
                reflections=True))
register(Family("cause_equi", "equivariant", "exactly equivariant in (observation, cause): the world-fixed cause "
                "of the break (shape_meta breaking) as an input", cause=True))
register(Family("canonical", None, "plain networks in the observation's canonical frame: exactly SO(2)-equivariant",
                canonical=True))
register(Family("local", None, "plain networks averaged over a learned, state-dependent neighbourhood of C_N",
                local=True))
register(Family("gated", "equivariant", "equivariant plus a free path a state-dependent gate switches on (sparse)",
                gated=True))
