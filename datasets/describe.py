"""Print a summary of a zarr replay buffer: python datasets/describe.py PATH [--verify]"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from equidiff_relaxed.data.describe import describe
from equidiff_relaxed.data.integrity import verify_chunks
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", help="replay buffer: a .zarr directory or a .zarr.zip file")
    parser.add_argument("--verify", action="store_true",
                        help="first check that every chunk of every array is present and decodes to its full size "
                             "(reads and decompresses all data); damaged chunks: one 'error:' line each, exit 2")
    args = parser.parse_args(argv)
    with ReplayBuffer.open(args.path, validate=not args.verify) as buf:
        if args.verify:
            with buf.reading("the replay buffer's metadata"):
                report = verify_chunks(buf, decode=True)
            for problem in report.problems:
                print(f"error: {args.path}: {problem}", file=sys.stderr)
            if not report.ok:
                return 2
            buf.validate()
        print(describe(buf))
        if args.verify:
            print(f"verify: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
