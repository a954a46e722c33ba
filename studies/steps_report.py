"""Success vs optimizer steps per family on one cell (env, demos, seeds): has each family converged at the sweep's
step budget?

python studies/steps_report.py --env push-pillar --demos 100 --seeds 0 --out benchmarks/results/steps_curve/push-pillar \
    --also benchmarks/results/regions_fast/push-pillar,benchmarks/results/regions_fast_plain30k/push-pillar
Reads <out>/steps<k>/runs/*/eval.json (each folder made by regions.py --steps <k> --out <out>/steps<k>) and the runs
of the --also sweep folders, keeps the runs of the cell (from scratch; fine-tuned runs are left out) and writes
<out>/steps_table.md (success per family and budget, all / broken / symmetric regions, bootstrap intervals) and
<out>/steps_curve.png. The broken regions are <out>/sweep.json's ``broken_regions`` where that file declares them
(as for regions.py), else the regions whose data symmetry-break ratio is high.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli


def cell_runs(folders: list[Path], demos: int, seeds: set[int]) -> list[dict[str, Any]]:
    """The from-scratch runs of the cell in ``folders``, with ``demos`` replaced by their step budget (the x axis)."""
    from studies.lib.sweep import finished_runs

    runs = [r for folder in folders for r in finished_runs(folder)]
    return [dict(r, demos=int(r["steps"])) for r in runs
            if r["demos"] == demos and r["seed"] in seeds and not r.get("init_from")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--out", required=True, help="folder of steps<k> sweeps; the table and figure go here")
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--also", default="", help="more sweep folders (comma-separated)")
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64,
                        help="the runs' batch size for the axis label, unless their eval.json records an override")
    args = parser.parse_args(argv)
    from equidiff_relaxed.data.atomic import atomic_write_text
    from studies.lib.sweep import model_color, model_order
    from studies.lib.sweep_stats import cell_intervals, format_interval, plot_subset_curves, sweep_broken_regions

    out = Path(args.out)
    folders = sorted(out.glob("steps*/")) + [Path(f) for f in args.also.split(",") if f]
    runs = cell_runs(folders, args.demos, {int(s) for s in args.seeds.split(",")})
    if not runs:
        raise UserError(f"no finished runs with {args.demos} demos and seeds {args.seeds}", args.out)
    broken = sweep_broken_regions(out, runs)
    table = cell_intervals(runs, args.regions, broken)
    lines = [f"{args.env}, {args.demos} demos, seeds {args.seeds}: success vs optimizer steps (bootstrap 95% "
             f"intervals over seeds and episodes; broken regions {broken})", "",
             "| model | steps | seeds | all | broken | symmetric |", "|---|---|---|---|---|---|"]
    for (model, steps), row in sorted(table.items(), key=lambda kv: (model_order(kv[0][0]), kv[0][1])):
        seeds = sorted({r["seed"] for r in runs if r["model"] == model and r["demos"] == steps})
        lines.append(f"| {model} | {steps} | {len(seeds)} | " + " | ".join(map(format_interval, row.values())) + " |")
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "steps_table.md", text)
    batches = {(r.get("overrides") or {}).get("data.batch_size", args.batch) for r in runs}
    batch = f"batch {batches.pop()}" if len(batches) == 1 else "batch " + "/".join(map(str, sorted(batches)))
    plot_subset_curves(runs, args.regions, broken, out / "steps_curve.png", order=model_order, color=model_color,
                       title=f"{args.env}, {args.demos} demos", xlabel=f"optimizer steps ({batch})", log_x=True)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
