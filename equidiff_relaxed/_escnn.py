"""escnn, imported in one place: its import-time warnings silenced, and one clear line when it is missing.

escnn is not a pip dependency of this package (its py3nj dependency needs a Fortran compiler): install it with
``pip install --no-deps escnn==1.0.11`` after the package. Modules that build groups or steerable layers import
escnn's parts from here; without escnn they raise :class:`MissingEscnn` (a UserError, so a command prints one
``error:`` line, and an ImportError, so ``except ImportError`` still works).
"""
from __future__ import annotations

import warnings

from equidiff_relaxed.errors import UserError

ESCNN_VERSION = "1.0.11"
INSTALL_HINT = f"pip install --no-deps escnn=={ESCNN_VERSION} (docs/installation.md)"


class MissingEscnn(UserError, ImportError):
    """escnn (or a package it needs) is not installed."""


try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import escnn.group as egroup
        from escnn import gspaces
        from escnn import nn as enn
        from escnn.group.representation import build_from_discrete_group_representation
except ImportError as err:
    missing = getattr(err, "name", None) or "escnn"
    what = "escnn is not installed" if missing.split(".")[0] == "escnn" else f"escnn needs {missing!r}, not installed"
    raise MissingEscnn(f"{what}: {INSTALL_HINT}") from None

__all__ = ["ESCNN_VERSION", "INSTALL_HINT", "MissingEscnn", "build_from_discrete_group_representation", "egroup",
           "enn", "gspaces"]
