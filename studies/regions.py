"""Sample efficiency per orientation region, with the study reports: ``equidiff-sweep`` (train model families on
nested demo subsets with the same budget and seeds, evaluate each per region on paired episodes) plus the
statistics and diagnostics of studies/lib.

python studies/regions.py --env push-pillar --demos 10 25 50 --seeds 0 1 --models plain equi relaxed residual \
    --out benchmarks/results/regions/push-pillar [--steps 6000] [--episodes_per_region 20] [--recipe configs/push.yaml]

Options are the sweep's (``--help``; hyphenated spellings such as --episodes-per-region work too) plus
--broken_regions and --compare. Finished runs (<out>/runs/<name>/eval.json) are skipped, so the script can be
resumed. Writes <out>/table.md, regions.png, diagnostics.md, diagnostics.png, failures.md, stats.md (bootstrap
intervals over seeds and episodes; paired comparisons with p-values; all / broken / symmetric regions) and
subsets.png, from every finished run in <out> (also those of earlier invocations with other models or demo counts).
--report_only rebuilds them from the finished runs' eval.json files without training anything.

Overrides: --set model.relax_alpha=1e-5 (repeatable; SECTION.KEY=VALUE, the value parsed as YAML) changes every
family's recipe before the run's own settings; give such a sweep its own --out (each eval.json records them).

Fine-tuning: a model <family>_from_<base> (e.g. relaxed_from_equi) starts from the <base> run with the same demos
and seed (trained first if its checkpoint is not there) and trains --finetune_steps more; list equi_from_equi too to
compare at an equal total budget. The earlier U-Net pipeline's recipes are one file per family:
python studies/regions.py --env push-pillar --demos 50 --models equi_from_equi relaxed_from_equi \
    --steps 1500 --finetune_steps 500 --recipe 'configs/legacy/bench_push_{model}.yaml' --out benchmarks/results/regions/push-pillar
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from studies.lib.sweep_command import SweepCommand, run, write_table_and_figure  # noqa: E402
from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402


@dataclass
class StudyCommand(SweepCommand):
    """Options of ``studies/regions.py``: the sweep's (:class:`SweepCommand`) and these.

    Args:
        broken_regions: regions where the task breaks the symmetry (default: <out>/sweep.json's broken_regions, else
            those whose data symmetry-break ratio is >= 0.5).
        compare: paired comparisons a:b,... (default: every model vs equi, equi vs plain).
    """

    broken_regions: list[int] | None = None
    compare: str | None = None


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse

    args = parse(StudyCommand, argv, "studies/regions.py", __doc__)
    from equidiff_relaxed.threads import configure_threads

    configure_threads(1)
    t0 = time.perf_counter()
    out, results = run(args)
    return _report(args, out, results, t0)


def broken_regions(args: StudyCommand, results: list, out: Path) -> list[int]:
    """--broken-regions, else <out>/sweep.json's ``broken_regions``, else the regions whose data symmetry-break ratio is
    >= BREAK_RATIO (none if unknown)."""
    if args.broken_regions is not None:
        return sorted(set(args.broken_regions))
    from studies.lib.sweep_stats import sweep_broken_regions

    return sweep_broken_regions(out, results)


def _pairs(args: StudyCommand, results: list) -> list[tuple[str, str]]:
    from studies.lib.sweep_stats import default_pairs
    from studies.lib.sweep import model_order

    if args.compare:
        pairs = [tuple(p.split(":")) for p in args.compare.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise UserError(f"--compare takes a:b pairs separated by commas, got {args.compare!r}")
        return pairs  # type: ignore[return-value]
    return default_pairs(sorted({r["model"] for r in results}, key=model_order))


def _report(args: StudyCommand, out: Path, results: list, t0: float) -> int:
    from studies.lib.sweep_diagnostics import diagnostics_table, plot_diagnostics
    from studies.lib.sweep_failures import failures_markdown, wrist_limit_markdown
    from studies.lib.sweep_stats import comparisons_markdown, intervals_markdown, plot_subset_curves
    from equidiff_relaxed.data.atomic import atomic_write_text
    from studies.lib.sweep import model_color, model_order

    table = write_table_and_figure(args, out, results)
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
