"""Print a summary of a zarr replay buffer: python datasets/describe.py PATH"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from equidiff_relaxed.data.describe import describe
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", help="replay buffer: a .zarr directory or a .zarr.zip file")
    args = parser.parse_args(argv)
    with ReplayBuffer.open(args.path) as buf:
        print(describe(buf))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
