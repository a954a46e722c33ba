"""Paired comparison of two families from two sweep folders, on the episodes they share.

python studies/compare_runs.py benchmarks/results/robomimic_image/lift_stride:equi \
    benchmarks/results/robomimic_image/lift:plain --out benchmarks/results/robomimic_image/lift_stride/equi_vs_plain.md

regions.py compares the families inside one sweep folder; a variant run into its own folder (another encoder, other
overrides) is compared with a family of another folder here. Each side is FOLDER:MODEL; runs with the same demos and
seed were evaluated on the same episode plan, so a − b is paired per episode over the seeds both sides have
(bootstrap over seeds and episodes, McNemar), over all regions and, where the first folder's sweep.json declares
broken regions, over the broken and the symmetric ones. Prints a markdown table and writes it to --out if given.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402


def parse_side(spec: str) -> tuple[Path, str]:
    """``FOLDER:MODEL`` as (folder, model); UserError if it is not of that form."""
    folder, sep, model = spec.rpartition(":")
    if not sep or not folder or not model:
        raise UserError(f"a side is FOLDER:MODEL, got {spec!r}")
    return Path(folder), model


def side_runs(folder: Path, model: str, label: str) -> list[dict[str, Any]]:
    """The finished ``model`` runs of ``folder`` with their model renamed ``label`` (so that both sides may name the
    same family); UserError if the folder has no such run."""
    from studies.lib.sweep import finished_runs

    runs = [dict(r, model=label) for r in finished_runs(folder) if r["model"] == model]
    if not runs:
        raise UserError(f"no finished {model} run (runs/*/eval.json)", folder)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="FOLDER:MODEL, the minuend")
    parser.add_argument("b", help="FOLDER:MODEL, the subtrahend")
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--out", help="markdown file to write the table to (atomically)")
    args = parser.parse_args(argv)
    from studies.lib.sweep_stats import comparisons_markdown, declared_broken_regions
    from equidiff_relaxed.data.atomic import atomic_write_text

    (folder_a, model_a), (folder_b, model_b) = parse_side(args.a), parse_side(args.b)
    label_a, label_b = f"{folder_a.name}:{model_a}", f"{folder_b.name}:{model_b}"
    if label_a == label_b:
        label_a, label_b = args.a, args.b
    runs = side_runs(folder_a, model_a, label_a) + side_runs(folder_b, model_b, label_b)
    broken = declared_broken_regions(folder_a) or []
    table = comparisons_markdown(runs, args.regions, broken, [(label_a, label_b)])
    rows = [r for r in table.splitlines()[2:] if broken or " | all | " in r]
    if not rows:
        raise UserError(f"{args.a} and {args.b} share no demo count and seed")
    text = "\n".join([f"Paired on the same episodes (seeds both sides have), {args.regions} regions; broken regions "
                      f"{broken}", "", *table.splitlines()[:2], *rows]) + "\n"
    if args.out:
        atomic_write_text(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
