"""Print a summary of a zarr replay buffer: episodes, steps, each key's shape, range and representation, the
per-episode meta fields and the env, symmetry and source attrs.

equidiff-describe PATH [--verify]

With --verify it first reads and decodes every chunk (a full read): ``verify: ok (N chunks in K arrays)``, or one
``error:`` line per missing, truncated or corrupt chunk and exit status 2.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from equidiff_relaxed.errors import run_cli


@dataclass
class DescribeCommand:
    """Options of ``equidiff-describe``.

    Args:
        path: replay buffer: a .zarr directory or a .zarr.zip file.
        verify: first check that every chunk of every array is present and decodes to its full size (reads and
            decompresses all data); damaged chunks: one 'error:' line each, exit 2.
    """

    path: str
    verify: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse

    args = parse(DescribeCommand, argv, "equidiff-describe", __doc__, positional=("path",))
    from equidiff_relaxed.data.describe import describe
    from equidiff_relaxed.data.integrity import verify_chunks
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer

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


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
