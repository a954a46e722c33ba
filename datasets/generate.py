"""The ``equidiff-generate`` command run from this checkout (see equidiff_relaxed/cli/generate.py; ``--help`` lists the options)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.cli.generate import console  # noqa: E402

if __name__ == "__main__":
    sys.exit(console())
