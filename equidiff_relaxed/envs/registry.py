"""The env registry: the one place that says which task envs exist and everything the toolkit needs to use one.

An :class:`EnvSpec` bundles, for one env name: how to make the env (``make``), its scripted expert
(``make_expert``), the options demo generation takes for it (``options``: a frozen dataclass with ``validate``,
``env_kwargs``, ``expert_kwargs`` and ``perturb``), the noise on the recorded expert action by default, the failure
analysis of its episodes (``analysis``), how many orientation regions it is evaluated over by default, and how to
recreate it from the ``env`` attrs a dataset records (``recreate``). Demo generation, the expert report,
evaluation, failure reports and the sweeps read only this.

Adding an env is one module holding the env and a :func:`register_env` call. The built-in envs register when
:mod:`equidiff_relaxed.envs` is imported; envs of other packages register when they are imported, e.g. through
:mod:`equidiff_relaxed.plugins` (the ``EQUIDIFF_PLUGINS`` variable or the ``equidiff_relaxed.plugins`` entry-point
group), which also reaches the evaluation's env worker processes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import gymnasium as gym

from equidiff_relaxed.envs.perturb import PerturbConfig
from equidiff_relaxed.envs.outcomes import SHARED_COLUMNS, UNKNOWN, FAULTS, FailureAnalysis
from equidiff_relaxed.errors import UserError


class GenerationOptions(Protocol):
    """The env-specific options of demo generation (a frozen dataclass; its docstring's ``Args:`` are their help)."""

    def validate(self) -> None:
        """Raise :class:`UserError` naming the option of a bad value."""

    def env_kwargs(self, image_size: int | None, max_steps: int | None) -> dict[str, Any]:
        """Keyword arguments of the env's ``make`` for generation (with a camera of ``image_size`` pixels)."""

    def expert_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the env's ``make_expert`` beside the noise."""

    def perturb(self) -> PerturbConfig:
        """DART perturbation of the executed actions (all zero: none)."""


@dataclass(frozen=True)
class NoOptions:
    """An env without generation options of its own."""

    def validate(self) -> None:
        return None

    def env_kwargs(self, image_size: int | None, max_steps: int | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"image_size": image_size}
        if max_steps is not None:
            kwargs["max_steps"] = max_steps
        return kwargs

    def expert_kwargs(self) -> dict[str, Any]:
        return {}

    def perturb(self) -> PerturbConfig:
        return PerturbConfig()


def recorded_kwargs(attrs: dict[str, Any]) -> dict[str, Any]:
    """The default :attr:`EnvSpec.recreate`: the ``kwargs`` a dataset's ``env`` attrs record."""
    return dict(attrs.get("kwargs") or {})


@dataclass(frozen=True)
class EnvSpec:
    """One registered env. ``make(**kwargs)`` builds it (kwargs: ``n_regions``, ``image_size``, ``max_steps``,
    ``render_mode`` and its own); ``make_expert(env, noise_std, **expert_kwargs)`` its scripted expert (None: no
    expert, so no demo generation); ``options``: its generation-options dataclass; ``expert_noise``: default std of
    the noise on the recorded expert action; ``analysis``: failure categories of its episodes (None: failures are
    ``unknown``); ``n_regions``: default orientation regions; ``recreate``: the dataset's ``env`` attrs -> ``make``'s
    kwargs; ``requires``: returns a one-line reason when an optional dependency is missing, else None.

    What evaluation needs from a policy, without naming any env: ``adopts(attrs)`` says that a dataset's recorded
    ``env`` attrs are evaluated in this env although they name another (robomimic: every converted file, whatever its
    task); ``policy_kwargs(shape_meta)``: the ``make`` kwargs a policy's fields call for (robomimic: the action's
    width, which selects the controller, and the cameras the policy sees)."""

    name: str
    make: Callable[..., gym.Env]
    description: str = ""
    make_expert: Callable[..., Any] | None = None
    options: type = NoOptions
    expert_noise: float = 0.0
    analysis: FailureAnalysis | None = None
    n_regions: int = 8
    recreate: Callable[[dict[str, Any]], dict[str, Any]] = recorded_kwargs
    requires: Callable[[], str | None] = lambda: None
    adopts: Callable[[dict[str, Any]], bool] = lambda attrs: False
    policy_kwargs: Callable[[Any], dict[str, Any]] = lambda shape_meta: {}

    def check_available(self) -> None:
        """UserError with the install hint when an optional dependency of the env is missing."""
        why = self.requires()
        if why:
            raise UserError(f"{self.name} needs {why}")

    def generation_options(self, given: dict[str, Any]) -> Any:
        """The env's options dataclass from the options the user gave (others at their defaults), validated."""
        known = [f.name for f in dataclasses.fields(self.options)]
        unknown = sorted(set(given) - set(known))
        if unknown:
            own = f"its options: {', '.join('--' + k for k in known)}" if known else "it has no options of its own"
            raise UserError(f"{', '.join('--' + k for k in unknown)} {'is' if len(unknown) == 1 else 'are'} not "
                            f"an option of {self.name} ({own})")
        options = self.options(**given)
        options.validate()
        return options


_REGISTRY: dict[str, EnvSpec] = {}


def register_env(spec: EnvSpec) -> EnvSpec:
    """Add ``spec`` (its name must be new); also registers ``equidiff/<name>-v0`` with gymnasium. Returns it."""
    if spec.name in _REGISTRY:
        raise ValueError(f"env {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    gym_id = f"equidiff/{spec.name}-v0"
    if gym_id not in gym.registry:
        gym.register(gym_id, entry_point=spec.make)
    return spec


def unregister_env(name: str) -> None:
    """Remove an env (for tests and plug-ins that register temporary envs)."""
    _REGISTRY.pop(name, None)
    gym.registry.pop(f"equidiff/{name}-v0", None)


def env_for_dataset(attrs: dict[str, Any]) -> str | None:
    """The env a dataset's recorded ``env`` attrs are evaluated in: the first registered env that adopts them, else
    the env they name (None when they name none)."""
    for spec in _REGISTRY.values():
        if spec.adopts(attrs):
            return spec.name
    return attrs.get("name")


def env_names() -> tuple[str, ...]:
    """Registered env names, in registration order."""
    from equidiff_relaxed.plugins import load_plugins

    load_plugins()
    return tuple(_REGISTRY)


def get_env_spec(name: str) -> EnvSpec:
    """The spec of env ``name``; a UserError listing the known envs otherwise."""
    if name not in _REGISTRY:
        env_names()  # plug-ins may register it
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown env {name!r} (known: {', '.join(_REGISTRY)})") from None


def make_env(name: str, **kwargs: Any) -> gym.Env:
    """The env called ``name`` made with ``kwargs``; unknown names raise a UserError listing them."""
    spec = get_env_spec(name)
    spec.check_available()
    return spec.make(**kwargs)


def make_expert(name: str, env: gym.Env, noise_std: float = 0.0, **kwargs: Any) -> Any:
    """The scripted expert of env ``name`` for ``env`` (``reset(rng)`` then ``act(obs)``)."""
    spec = get_env_spec(name)
    if spec.make_expert is None:
        raise UserError(f"{name} has no scripted expert")
    return spec.make_expert(env, noise_std, **kwargs)


def analyses() -> list[FailureAnalysis]:
    """The distinct failure analyses of the registered envs, in registration order."""
    seen: list[FailureAnalysis] = []
    for spec in (_REGISTRY[n] for n in env_names()):
        if spec.analysis is not None and spec.analysis not in seen:
            seen.append(spec.analysis)
    return seen


def failure_categories() -> tuple[str, ...]:
    """Every failure category: each analysis's in registration order, then ``unknown`` and the env faults."""
    names = [c for a in analyses() for c in a.names]
    return (*dict.fromkeys(names), UNKNOWN, *FAULTS)


def failure_columns() -> dict[str, str]:
    """Category -> short column label of failure tables."""
    columns = {c: label for a in analyses() for c, label in a.categories}
    return {**columns, **SHARED_COLUMNS}


__all__ = ["EnvSpec", "GenerationOptions", "NoOptions", "analyses", "env_names", "failure_categories",
           "failure_columns", "get_env_spec", "make_env", "make_expert", "recorded_kwargs", "register_env",
           "unregister_env"]
