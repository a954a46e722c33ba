"""Sample efficiency per orientation region: train model families on nested demo subsets with the same budget and
seeds, evaluate each per region on paired episodes, write a Markdown table and a figure.

python benchmarks/regions.py --env push-pillar --demos 10,25,50 --seeds 0,1 --models plain,equi,relaxed,residual \
    --out benchmarks/results/regions/push-pillar [--steps 1500] [--episodes-per-region 20] [--config-prefix push]

The dataset (generated with the scripted expert if --dataset is not given: <out>/data.zarr, git-ignored) holds enough
episodes for the largest demo count plus the fixed validation split. Finished runs (<out>/runs/<name>/eval.json) are
skipped, so the script can be resumed. Writes <out>/table.md, regions.png, diagnostics.md, diagnostics.png, failures.md,
stats.md
(bootstrap intervals over seeds and episodes; paired comparisons with p-values; all / broken / symmetric regions)
and subsets.png, from every finished run in <out> (also those of earlier invocations with other models or demo
counts).
--report-only rebuilds them from the finished runs' eval.json files without training anything.

Overrides: --set model.relax_alpha=1e-5 (repeatable; SECTION.KEY=VALUE, the value parsed as YAML) changes every
family's config before the run's own settings; give such a sweep its own --out (each eval.json records them).

Fine-tuning: a model <family>_from_<base> (e.g. relaxed_from_equi) starts from the <base> run with the same demos
and seed (trained first if its checkpoint is not there) and trains --finetune-steps more; list equi_from_equi too to
compare at an equal total budget:
python benchmarks/regions.py --env push-pillar --demos 50 --models equi_from_equi,relaxed_from_equi \
    --finetune-steps 500 --config-prefix bench_push --out benchmarks/results/regions/push-pillar
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

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
    parser.add_argument("--broken-regions", type=_ints, help="regions where the task breaks the symmetry (default: "
                        "<out>/sweep.json's broken_regions, else those whose data symmetry-break ratio is >= 0.5)")
    parser.add_argument("--compare", help="paired comparisons a:b,... (default: every model vs equi, equi vs plain)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a YAML value of every family's config, e.g. --set model.relax_alpha=1e-5 "
                             "(value parsed as YAML; repeatable); use its own --out")
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
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set takes SECTION.KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
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
              progress=not args.quiet, finetune_steps=args.finetune_steps, overrides=overrides)
    return _report(args, out, finished_runs(out), t0)  # every run in <out>, also those of earlier invocations


def declared_broken_regions(out: Path) -> list[int] | None:
    """``broken_regions`` of ``<out>/sweep.json`` (the task's own symmetry break, declared once per sweep folder, e.g.
    Lift grasp-360's wrist-limit region), None without that file; UserError naming the file if it is malformed."""
    path = out / "sweep.json"
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text()).get("broken_regions")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as err:
        raise UserError(f"unreadable sweep.json: {err}", path) from None
    if not isinstance(value, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in value):
        raise UserError(f"broken_regions must be a list of region numbers, got {value!r}", path)
    return value


def broken_regions(args: argparse.Namespace, results: list, out: Path) -> list[int]:
    """--broken-regions, else <out>/sweep.json's ``broken_regions``, else the regions whose data symmetry-break ratio is
    >= BREAK_RATIO (none if unknown)."""
    if args.broken_regions is not None:
        return sorted(set(args.broken_regions))
    declared = declared_broken_regions(out)
    if declared is not None:
        return sorted(set(declared))
    from equidiff_relaxed.eval.sweep_diagnostics import data_ratios
    from equidiff_relaxed.eval.sweep_stats import broken_from_data

    return broken_from_data(data_ratios(results))


def _pairs(args: argparse.Namespace, results: list) -> list[tuple[str, str]]:
    from equidiff_relaxed.eval.sweep import model_order
    from equidiff_relaxed.eval.sweep_stats import default_pairs

    if args.compare:
        pairs = [tuple(p.split(":")) for p in args.compare.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise UserError(f"--compare takes a:b pairs separated by commas, got {args.compare!r}")
        return pairs  # type: ignore[return-value]
    return default_pairs(sorted({r["model"] for r in results}, key=model_order))


def _report(args: argparse.Namespace, out: Path, results: list, t0: float) -> int:
    from equidiff_relaxed.data.atomic import atomic_write_text
    from equidiff_relaxed.eval.sweep import markdown_table, model_color, model_order, plot_sweep
    from equidiff_relaxed.eval.sweep_diagnostics import diagnostics_table, plot_diagnostics
    from equidiff_relaxed.eval.sweep_failures import failures_markdown, wrist_limit_markdown
    from equidiff_relaxed.eval.sweep_stats import comparisons_markdown, intervals_markdown, plot_subset_curves

    table = markdown_table(results, args.regions)
    atomic_write_text(out / "table.md", f"{args.env}: success per region (pooled over seeds; 95% Wilson intervals)"
                      f"\n\n{table}\n")
    plot_sweep(results, args.regions, out / "regions.png", title=args.env)
    diag = diagnostics_table(results, args.regions)
    atomic_write_text(out / "diagnostics.md", f"{args.env}: relative equivariance error per region (mean over seeds)"
                      f", mean relaxation-weight deviation, and the data's symmetry-break ratio\n\n{diag}\n")
    plot_diagnostics(results, args.regions, out / "diagnostics.png", title=args.env)
    broken = broken_regions(args, results, out)
    cells = intervals_markdown(results, args.regions, broken, model_order)
    pairs = comparisons_markdown(results, args.regions, broken, _pairs(args, results))
    atomic_write_text(out / "stats.md", f"{args.env}: mean success with 95% intervals from a bootstrap over seeds and "
                      f"episodes; broken regions {broken} (symmetric: the others)\n\n{cells}\n\n"
                      f"Paired comparisons on the same episodes (seeds both cells have):\n\n{pairs}\n")
    plot_subset_curves(results, args.regions, broken, out / "subsets.png", model_order, model_color, title=args.env)
    wrist = wrist_limit_markdown(results, args.regions, model_order)
    atomic_write_text(out / "failures.md", f"{args.env}: {failures_markdown(results, args.regions, model_order)}\n"
                      + (f"\n{wrist}\n" if wrist else ""))
    print(table)
    print(diag)
    print(cells)
    print(f"wrote {out}/table.md, regions.png, diagnostics.md, diagnostics.png, stats.md, subsets.png, failures.md "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
