"""Sample efficiency per orientation region: train model families on nested demo subsets with the same budget and
seeds, evaluate each per region on paired episodes, write a Markdown table and a figure.

python benchmarks/regions.py --env push-pillar --demos 10,25,50 --seeds 0,1 --models plain,equi,relaxed,residual \
    --out benchmarks/results/regions/push-pillar [--steps 1500] [--episodes-per-region 20] [--config-prefix push]

The dataset (generated with the scripted expert if --dataset is not given: <out>/data.zarr, git-ignored) holds enough
episodes for the largest demo count plus the fixed validation split. Finished runs (<out>/runs/<name>/eval.json) are
skipped, so the script can be resumed. Writes <out>/table.md, regions.png, diagnostics.md and diagnostics.png, from
every finished run in <out> (also those of earlier invocations with other models or demo counts).
--report-only rebuilds them from the finished runs' eval.json files without training anything.

Fine-tuning: a model <family>_from_<base> (e.g. relaxed_from_equi) starts from the <base> run with the same demos
and seed (trained first if its checkpoint is not there) and trains --finetune-steps more; list equi_from_equi too to
compare at an equal total budget:
python benchmarks/regions.py --env push-pillar --demos 50 --models equi_from_equi,relaxed_from_equi \
    --finetune-steps 500 --config-prefix bench_push --out benchmarks/results/regions/push-pillar
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from equidiff_relaxed.errors import UserError, run_cli


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("empty list")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--demos", type=_ints, default=[10, 25, 50])
    parser.add_argument("--seeds", type=_ints, default=[0, 1])
    parser.add_argument("--models", default="plain,equi,relaxed,residual")
    parser.add_argument("--out", required=True)
    parser.add_argument("--dataset", help="existing dataset (default: generate <out>/data.zarr)")
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps per run (the same for every run)")
    parser.add_argument("--finetune-steps", type=int, help="steps of <model>_from_<base> runs (default --steps)")
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--episodes-per-region", type=int, default=20)
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--config-prefix", default="push", help="configs/<prefix>_<model>.yaml hold each family")
    parser.add_argument("--report-only", action="store_true", help="table and figure from finished runs only")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from equidiff_relaxed.demos.generate import GenerateConfig, generate
    from equidiff_relaxed.eval.sweep import finished_runs, parse_model, run_sweep

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        parse_model(m)  # unknown names fail before anything is generated or trained
    if (min(args.demos) < 1 or args.steps < 1 or args.episodes_per_region < 1 or args.regions < 1
            or (args.finetune_steps is not None and args.finetune_steps < 1)):
        raise UserError("--demos, --steps, --finetune-steps, --episodes-per-region and --regions must be >= 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.report_only:
        results = finished_runs(out)
        if not results:
            raise UserError("no finished runs (runs/*/eval.json)", out)
        return _report(args, out, results, t0)
    dataset = args.dataset
    if dataset is None:
        dataset = str(out / "data.zarr")
        if not Path(dataset).exists():
            episodes = math.ceil(max(args.demos) / 0.9) + 1  # room for the 10% validation split
            generate(GenerateConfig(args.env, episodes=episodes, seed=0), dataset, workers=2, progress=not args.quiet)
    run_sweep(args.env, dataset, out, args.demos, args.seeds, models, args.steps, args.regions,
              args.episodes_per_region, args.n_envs, config_prefix=args.config_prefix,
              progress=not args.quiet, finetune_steps=args.finetune_steps)
    return _report(args, out, finished_runs(out), t0)  # every run in <out>, also those of earlier invocations


def _report(args: argparse.Namespace, out: Path, results: list, t0: float) -> int:
    from equidiff_relaxed.data.atomic import atomic_write_text
    from equidiff_relaxed.eval.sweep import diagnostics_table, markdown_table, plot_diagnostics, plot_sweep

    table = markdown_table(results, args.regions)
    atomic_write_text(out / "table.md", f"{args.env}: success per region (pooled over seeds; 95% Wilson intervals)"
                      f"\n\n{table}\n")
    plot_sweep(results, args.regions, out / "regions.png", title=args.env)
    diag = diagnostics_table(results, args.regions)
    atomic_write_text(out / "diagnostics.md", f"{args.env}: relative equivariance error per region (mean over seeds)"
                      f", mean relaxation-weight deviation, and the data's symmetry-break ratio\n\n{diag}\n")
    plot_diagnostics(results, args.regions, out / "diagnostics.png", title=args.env)
    print(table)
    print(diag)
    print(f"wrote {out}/table.md, regions.png, diagnostics.md, diagnostics.png ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
