"""Plug-ins: modules of other packages that register envs (:func:`equidiff_relaxed.envs.register_env`) or model
families (:func:`equidiff_relaxed.policy.families.register`), imported once on first use of either registry.

Two ways to name them: the environment variable ``EQUIDIFF_PLUGINS`` (comma-separated module names; inherited by the
evaluation's env worker processes), and the entry-point group ``equidiff_relaxed.plugins`` of installed packages
(``[project.entry-points."equidiff_relaxed.plugins"] my_env = "my_package.my_env"``).
"""
from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from equidiff_relaxed.errors import UserError

ENV_VARIABLE = "EQUIDIFF_PLUGINS"
ENTRY_POINT_GROUP = "equidiff_relaxed.plugins"
_loaded: set[str] = set()


def plugin_modules() -> list[str]:
    """Module names from ``EQUIDIFF_PLUGINS`` and the entry points, in that order, without repeats."""
    named = [m.strip() for m in os.environ.get(ENV_VARIABLE, "").split(",") if m.strip()]
    named += [ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return list(dict.fromkeys(named))


def load_plugins() -> None:
    """Import every plug-in module not imported yet; a UserError naming one that cannot be imported."""
    for name in plugin_modules():
        if name in _loaded:
            continue
        _loaded.add(name)  # first, so a plug-in that uses the registries while it loads does not recurse
        try:
            importlib.import_module(name)
        except ImportError as err:
            _loaded.discard(name)
            raise UserError(f"plug-in {name!r} (from {ENV_VARIABLE} or the {ENTRY_POINT_GROUP!r} entry points) "
                            f"cannot be imported: {err}") from None


__all__ = ["ENTRY_POINT_GROUP", "ENV_VARIABLE", "load_plugins", "plugin_modules"]
