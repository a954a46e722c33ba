"""Print a summary of a zarr replay buffer: episodes, steps, each key's shape, range and representation, the
per-episode meta fields and the env, symmetry and source attrs.

equidiff-describe PATH [--verify]

With --verify it first checks the whole dataset: every chunk read and decoded (a full read), the structure (episode
ends consistent with every array) and every key shape_meta declares (present, with its declared shape). It prints
``verify: ok (N chunks in K arrays)``, or one ``error:`` line per problem and exit status 2.
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
            decompresses all data), that the episode ends fit every array and that every key shape_meta declares is
            stored with its shape; each problem: one 'error:' line, exit 2.
    """

    path: str
    verify: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse

    args = parse(DescribeCommand, argv, "equidiff-describe", __doc__, positional=("path",))
    from equidiff_relaxed.data.describe import describe
    from equidiff_relaxed.data.integrity import declared_problems, verify_chunks
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer

    with ReplayBuffer.open(args.path, validate=not args.verify) as buf:
        if args.verify:
            with buf.reading("the replay buffer's metadata"):
                report = verify_chunks(buf, decode=True)
            problems = report.problems + declared_problems(buf, read_episode_ends=report.ok)
            for problem in problems:
                print(f"error: {args.path}: {problem}", file=sys.stderr)
            if problems:
                return 2
        print(describe(buf))
        if args.verify:
            print(f"verify: {report.summary()}")
    return 0


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
