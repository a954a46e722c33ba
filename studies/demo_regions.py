"""How many training demonstrations each orientation region gets in a sample-efficiency sweep.

python studies/demo_regions.py [--demos 5,10,25,50,100] [--regions 8] [--out benchmarks/results/demo_regions.md] \
    DATASET [DATASET ...]

The sweeps train on nested subsets of one dataset (``data.split.split_episodes``: split seed 0, 10 % validation,
the first N training candidates), so a region's demo count is fixed by the dataset, not by the run's seed. A region
with no demonstration at a small N is one where only a symmetric model can know what to do; a region with few (Lift
grasp-360's region 6, where the expert mostly fails and only successful episodes are stored) is one where a relaxed
model has little data to break the symmetry with. Reads each dataset's ``meta/episode_theta``; writes a Markdown
table (one row per dataset and N) atomically and prints it.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from studies.lib.arguments import int_list
from equidiff_relaxed.data.split import split_episodes
from equidiff_relaxed.errors import UserError, run_cli
from equidiff_relaxed.symmetry.regions import region_of


def demos_per_region(thetas: np.ndarray, n_demos: int, n_regions: int, val_ratio: float = 0.1,
                     seed: int = 0) -> list[int]:
    """Training demonstrations per region for the first ``n_demos`` training candidates (the sweeps' split)."""
    train, _ = split_episodes(len(thetas), val_ratio, seed, n_demos)
    return np.bincount(np.atleast_1d(region_of(thetas[train], n_regions)), minlength=n_regions).tolist()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--demos", type=int_list, default=[5, 10, 25, 50, 100])
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/demo_regions.md")
    args = parser.parse_args(argv)
    from equidiff_relaxed.data.atomic import atomic_write_text
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer

    head = "| dataset | demos | " + " | ".join(f"region {k}" for k in range(args.regions)) + " | empty regions |"
    lines = [head, "|" + "---|" * (args.regions + 3)]
    for path in args.datasets:
        with ReplayBuffer.open(path) as buf:
            if "episode_theta" not in buf.meta:
                raise UserError("no meta/episode_theta: cannot tell each episode's orientation region", path)
            thetas = np.asarray(buf.meta["episode_theta"][:], dtype=np.float64)
        for n in args.demos:
            try:
                counts = demos_per_region(thetas, n, args.regions)
            except UserError as err:
                raise UserError(str(err), path) from None
            lines.append(f"| {path} | {n} | " + " | ".join(map(str, counts)) + f" | {sum(c == 0 for c in counts)} |")
    text = "\n".join(lines)
    atomic_write_text(Path(args.out), "Training demonstrations per orientation region (split seed 0, 10 % validation, "
                      f"nested subsets; `python studies/demo_regions.py`)\n\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
