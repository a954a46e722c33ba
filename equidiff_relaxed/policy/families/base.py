"""The family registry and the :class:`Family` base class (see :mod:`equidiff_relaxed.policy.families`)."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from equidiff_relaxed.errors import UserError


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """A family without options of its own."""


class Family:
    """One model family (see the module docstring). Subclass it, set the class attributes, implement :meth:`build`.

    Class attributes: ``options`` (the options dataclass; its fields' defaults are the family's defaults, and its
    ``validate()``, if any, checks them), ``exact`` (exactly equivariant at every parameter value),
    ``starts_exact`` (exactly equivariant at initialisation: its equivariance error per region shows where training
    broke the symmetry), ``learns_breaking`` (has relaxation weights w_l(h)), ``group_axis`` (its networks carry the
    group: regular fields or a neighbourhood of group elements; the equivariance error is measured on the policy's
    group, else on C_8). ``reflections``: the group is D_N (rotations and reflections across the dataset's axis).
    """

    options: ClassVar[type] = NoOptions
    exact: ClassVar[bool] = False
    starts_exact: ClassVar[bool] = False
    learns_breaking: ClassVar[bool] = False
    group_axis: ClassVar[bool] = False
    needs_top_down_images: ClassVar[bool] = False  # builds only for observations with an image that turns (rep image)

    def __init__(self, name: str, description: str, reflections: bool = False):
        if not name.isidentifier() or "_from_" in name:
            raise ValueError(f"family name {name!r} must be an identifier without '_from_' (used by sweeps)")
        self.name, self.description, self.reflections = name, description, reflections

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def group_letter(self) -> str:
        """"D" for D_N families, "C" otherwise (the group a policy of this family is built for)."""
        return "D" if self.reflections else "C"

    # ------------------------------------------------------------------ options
    def option_names(self) -> tuple[str, ...]:
        """The ``--model.<option>`` names this family takes beyond the common ones."""
        return tuple(f.name for f in dataclasses.fields(self.options))

    def make_options(self, values: dict[str, Any], config: Any) -> Any:
        """The options dataclass from ``values`` (missing ones: the family's defaults), checked against the common
        options ``config`` (:meth:`check`); ValueError for options it does not take or bad values."""
        unknown = sorted(set(values) - set(self.option_names()))
        if unknown:
            raise ValueError(self.refusal(unknown))
        options = self.options(**values)
        self.check(options, config)
        return options

    def check(self, options: Any, config: Any) -> None:
        """ValueError for option values that cannot work: the options' own ``validate()``, if any; a family whose
        options depend on the common ones (the group order, say) adds its checks here."""
        validate = getattr(options, "validate", None)
        if callable(validate):
            validate()

    def refusal(self, names: list[str]) -> str:
        """The one-line reason this family refuses options ``names``: each with the families that take it."""
        parts = []
        for name in names:
            owners = [f.name for f in _REGISTRY.values() if name in f.option_names()]
            parts.append(f"{name} (an option of {', '.join(owners)})" if owners else name)
        takes = ", ".join(self.option_names()) or "none"
        return f"model {self.name!r} does not take {', '.join(parts)}; its own options: {takes}"

    # ------------------------------------------------------------------ hooks
    def build(self, ctx: Any) -> tuple[Any, Any]:
        """(encoder, denoiser) for a :class:`~equidiff_relaxed.policy.networks.BuildContext`: the encoder maps
        normalised observation windows {key: (B, To, ...)} to a condition, the denoiser (noisy chunk (B, T, A),
        step (B,), condition) to the prediction (B, T, A), both in normalised units."""
        raise NotImplementedError(f"family {self.name!r} does not build networks")

    def fixed_inputs(self, meta: Any, options: Any) -> dict[str, tuple[Any, tuple[float, ...]]]:
        """Constant observation fields the family feeds its networks: name -> (FieldMeta, value). None by default."""
        return {}

    def diagnostic_group(self, policy: Any) -> Any:
        """The group whose elements the equivariance error is measured on: the policy's own when the networks carry
        a group axis, else C_8."""
        from equidiff_relaxed.symmetry.group import SymmetryGroup

        return policy.group if self.group_axis else SymmetryGroup(8)

    def diagnostics(self, policy: Any, samples: dict[int, list[dict[str, Any]]], seed: int = 0) -> dict[str, Any]:
        """What evaluation reports about the policy's symmetry, from observation windows per region (``samples``:
        region -> [{key: (To, ...)}]): ``equivariance_error_per_region`` (a list), ``relaxation`` (the relaxed
        layers' w_l(h)) and ``gate_per_region`` (empty for families without a gate)."""
        from equidiff_relaxed.policy.diagnostics import equivariance_error, mean_gate, relaxation_weights

        regions = sorted(samples)
        gates = [mean_gate(policy, samples[k]) for k in regions]
        return {"equivariance_error_per_region": [equivariance_error(policy, samples[k], seed) for k in regions],
                "relaxation": relaxation_weights(policy),
                "gate_per_region": gates if any(g == g for g in gates) else []}


_REGISTRY: dict[str, Family] = {}
_WATCHERS: list[Any] = []  # called after each registration (the policy config adds the new family's options)


def register(family: Family) -> Family:
    """Add ``family`` (its name must be new); returns it."""
    if family.name in _REGISTRY:
        raise ValueError(f"model family {family.name!r} is already registered")
    _REGISTRY[family.name] = family
    all_option_fields()  # families that share an option name must agree on its type
    for watcher in _WATCHERS:
        watcher()
    return family


def watch_registrations(callback: Any) -> None:
    """Call ``callback()`` after every later :func:`register`."""
    _WATCHERS.append(callback)


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


def all_option_fields() -> dict[str, dataclasses.Field]:
    """Every family option by name (the first family that declares it gives its type and help), in registration
    order; families that share a name must agree on its type."""
    fields: dict[str, dataclasses.Field] = {}
    for family in _REGISTRY.values():
        for f in dataclasses.fields(family.options):
            if f.name in fields and fields[f.name].type != f.type:
                raise ValueError(f"families disagree on the type of option {f.name!r}")
            fields.setdefault(f.name, f)
    return fields


def family_option_docs() -> dict[str, str]:
    """Help text of every family option: its docstring's ``Args:`` entry and the families that take it."""
    from docstring_parser import parse as parse_docstring

    docs: dict[str, str] = {}
    owners: dict[str, list[str]] = {}
    for family in _REGISTRY.values():
        for p in parse_docstring(family.options.__doc__ or "").params:
            docs.setdefault(p.arg_name, " ".join((p.description or "").split()))
        for name in family.option_names():
            owners.setdefault(name, []).append(family.name)
    return {name: f"{docs.get(name, '')} ({', '.join(who)})".strip() for name, who in owners.items()}


def check_option_sections(sections: dict[str, Any], source: str = "families") -> dict[str, dict[str, Any]]:
    """A recipe's ``families:`` section (family name -> {option: value}) checked: every name a registered family,
    every option one it takes; UserError naming the first problem."""
    checked: dict[str, dict[str, Any]] = {}
    for name, values in (sections or {}).items():
        try:
            family = get_family(str(name))
        except ValueError as err:
            raise UserError(f"{source}.{name}: {err}") from None
        if not isinstance(values, dict):
            raise UserError(f"{source}.{name} must map option names to values, got {values!r}")
        unknown = sorted(set(values) - set(family.option_names()))
        if unknown:
            raise UserError(f"{source}.{name}: {family.refusal(unknown)}")
        checked[str(name)] = dict(values)
    return checked


__all__ = ["Family", "NoOptions", "all_option_fields", "check_option_sections", "family_names", "family_option_docs",
           "get_family", "register", "unregister", "watch_registrations"]
