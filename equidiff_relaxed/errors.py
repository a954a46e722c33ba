"""User-facing errors and the command-line wrapper that reports them as one line.

Every problem caused by the user's input (a missing key, a corrupt file, an output that already exists) raises
:class:`UserError`. Command-line entry points run through :func:`run_cli`, which prints the message as a single line
on stderr and exits with status 2, with no traceback. A run stopped by SIGINT / SIGTERM after saving its state raises
:class:`Interrupted` (its line says how to resume; exit status 130). Programming errors still raise normally.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from os import PathLike


class UserError(Exception):
    """A problem with the user's input: the message names the file (when there is one) and the problem."""

    def __init__(self, message: str, path: str | PathLike | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class Interrupted(Exception):
    """Work stopped on SIGINT / SIGTERM after its state was saved; the message says how to go on."""


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; turn a :class:`UserError` into one line on stderr and exit status 2."""
    try:
        code = main(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(str(stop), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0 if code is None else int(code)
