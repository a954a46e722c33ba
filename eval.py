"""eval.py: not implemented yet (see the project's issues); exits with a clear message."""
from __future__ import annotations

import sys
from collections.abc import Sequence

from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    raise UserError("eval.py is not implemented yet: data, simulator and policy are in place, evaluation per region comes next")


if __name__ == "__main__":
    sys.exit(run_cli(main))
