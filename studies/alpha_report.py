"""The relaxation study: relaxed variants (alpha, relax_lr, relax_where, ...) or residual ones (beta) on the same
data and episodes, against equi, per demo count and region subset (broken / symmetric), with seed-aware intervals,
paired tests, the learned weights' movement and the rank correlation between the model's equivariance error and the
data's symmetry-break ratio.

python studies/alpha_report.py --env push-pillar --alpha-dir benchmarks/results/relax_alpha/push-pillar \
    --reference benchmarks/results/regions_fast/push-pillar
Reads <alpha-dir>/<variant>/runs/*/eval.json, each folder made by regions.py --set ... --out <alpha-dir>/<variant>
(a folder alpha<a> is shown as "relaxed α=<a>", beta<b> as "residual β=<b>", any other as its name) and, from the
--reference sweeps, the --reference-models runs (default equi, relaxed as "relaxed α=<--reference-alpha>" and
relaxed_from_equi; residual is shown as "residual β=<--reference-beta>") with a variant's demo count and step
budget; writes <alpha-dir>/alpha_table.md with one table per demo count. The residual-beta study:

python studies/alpha_report.py --env push --alpha-dir benchmarks/results/residual_beta/push \
    --reference benchmarks/results/sample_efficiency/push --reference-models equi,residual
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli

REFERENCE_MODELS = ("equi", "relaxed", "relaxed_from_equi")


VARIANT_PREFIXES = {"alpha": "relaxed α=", "beta": "residual β="}  # folder prefix -> label prefix, in table order


def variant_label(folder: str) -> str:
    """``alpha1e-5`` -> ``relaxed α=1e-5``, ``beta1`` -> ``residual β=1``; any other folder name is its own label."""
    for prefix, label in VARIANT_PREFIXES.items():
        if folder.startswith(prefix):
            return label + folder[len(prefix):]
    return folder


def variant_order(folder: Path) -> tuple[int, float, str]:
    """alpha folders first, by decreasing alpha; then beta folders, by decreasing beta; then the others by name."""
    for rank, prefix in enumerate(VARIANT_PREFIXES):
        if folder.name.startswith(prefix):
            try:
                return (rank, -float(folder.name[len(prefix):]), "")
            except ValueError:
                pass
    return (len(VARIANT_PREFIXES), 0.0, folder.name)


def study_runs(alpha_dir: str, references: list[str], reference_alpha: str, reference_beta: str = "1e-2",
               reference_models: Sequence[str] = REFERENCE_MODELS) -> list[dict[str, Any]]:
    """Every run of the study, relabelled: from the reference sweeps, the ``reference_models`` runs (relaxed as
    "relaxed α=<reference_alpha>", residual as "residual β=<reference_beta>") with the demo count and step budget of
    a variant run; then each variant folder's runs under the variant's label. A run whose label, demos, seed and
    steps repeat an earlier one (the reference setting's own variant folder) is counted once."""
    from studies.lib.sweep import finished_runs

    folders = sorted((p for p in Path(alpha_dir).iterdir() if p.is_dir() and (p / "runs").is_dir()),
                     key=variant_order) if Path(alpha_dir).is_dir() else []
    runs: list[dict[str, Any]] = []
    for folder in folders:
        runs += [dict(r, model=variant_label(folder.name)) for r in finished_runs(folder)]
    if not runs:
        raise UserError("no variant runs (<variant>/runs/*/eval.json)", alpha_dir)
    cells = {(r["demos"], r.get("steps")) for r in runs}
    ref = [r for folder in references for r in finished_runs(folder)
           if r["model"] in reference_models and (r["demos"], r.get("steps")) in cells]
    shipped = {"relaxed": f"relaxed α={reference_alpha}", "residual": f"residual β={reference_beta}"}
    ref = [dict(r, model=shipped.get(r["model"], r["model"])) for r in ref]
    # a variant folder of the reference setting (alpha1e-3) repeats the reference sweep's runs: count each
    # (label, demos, seed, steps) once, or the bootstrap would take one run for two seeds
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in ref + runs:
        unique.setdefault((r["model"], r["demos"], r["seed"], r.get("steps")), r)
    return list(unique.values())


def table_lines(runs: list[dict[str, Any]], demos: int, n_regions: int, ratios: list[float],
                broken: list[int]) -> list[str]:
    """The Markdown table of one demo count: a row per model, equi first."""
    import numpy as np

    from studies.lib.sweep_diagnostics import error_break_correlation, mean_error_per_region
    from studies.lib.sweep_stats import cell_intervals, compare, format_difference, format_interval

    runs = [r for r in runs if r["demos"] == demos]
    cells = cell_intervals(runs, n_regions, broken)
    budgets = sorted({r.get("steps") for r in runs if r.get("steps")})
    lines = [f"### {demos} demos" + (f" ({', '.join(map(str, budgets))} steps)" if budgets else ""), "",
             "| model | seeds | all | broken | symmetric | mean \\|w − w(e)\\| | ρ(eq. error, data break) | "
             "broken vs equi: diff, p (McNemar) |", "|---|---|---|---|---|---|---|---|"]
    labels = list(dict.fromkeys(r["model"] for r in sorted(runs, key=lambda r: r["model"] != "equi")))
    for label in labels:
        mine = [r for r in runs if r["model"] == label]
        dev = [layer["mean_abs_deviation_from_identity"] for r in mine for layer in (r.get("relaxation") or {}).values()]
        measured = all(r.get("equivariance_error_per_region") for r in mine)
        rho = (error_break_correlation(mean_error_per_region(mine, n_regions), ratios) if measured  # NaN: stayed exact
               else float("nan"))
        vs = compare(runs, label, "equi", demos, n_regions, broken) if label != "equi" else None
        c = vs["broken"] if vs else None
        fmt = {k: format_interval(v) for k, v in cells[(label, demos)].items()}
        lines.append(f"| {label} | {len(mine)} | {fmt['all']} | {fmt['broken']} | {fmt['symmetric']} | "
                     + (f"{np.mean(dev):.1e}" if dev else "–") + " | " + ("–" if np.isnan(rho) else f"{rho:.2f}")
                     + " | " + (f"{format_difference(c.diff)}, p = {c.p_mcnemar:.3g}" if c else "") + " |")
    return lines + [""]


def report(env: str, runs: list[dict[str, Any]], n_regions: int) -> str:
    """The study's Markdown: one table per demo count."""
    from studies.lib.sweep_diagnostics import MOVED_ERROR, data_ratios
    from studies.lib.sweep_stats import broken_from_data

    ratios = data_ratios(runs) or []
    broken = broken_from_data(ratios)
    lines = [f"{env}: variants vs equi (bootstrap 95% intervals over seeds and episodes); broken regions "
             f"{broken} (data symmetry-break ratio ≥ 0.5); ρ: Spearman over regions, – where the model stayed "
             f"equivariant (relative equivariance error < {MOVED_ERROR:g} in every region)", ""]
    for demos in sorted({r["demos"] for r in runs}):
        lines += table_lines(runs, demos, n_regions, ratios, broken)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--alpha-dir", required=True, help="folder of variant sweeps (<variant>/runs/*/eval.json)")
    parser.add_argument("--reference", required=True,
                        help="sweep folders (comma-separated) with the equi and alpha-1e-3 relaxed runs; a run is "
                             "used where a variant has its demo count and step budget")
    parser.add_argument("--reference-models", default=",".join(REFERENCE_MODELS),
                        help="which models of the reference sweeps to show (comma-separated)")
    parser.add_argument("--reference-alpha", default="1e-3",
                        help="the relaxed reference runs' alpha (the sweeps' configs/fast_push_relaxed.yaml)")
    parser.add_argument("--reference-beta", default="1e-2",
                        help="the residual reference runs' beta (the sweeps' configs/fast_push_residual.yaml; the "
                             "shipped default is 1)")
    parser.add_argument("--regions", type=int, default=8)
    args = parser.parse_args(argv)
    from equidiff_relaxed.data.atomic import atomic_write_text

    references = [f for f in args.reference.split(",") if f]
    models = [m for m in args.reference_models.split(",") if m]
    runs = study_runs(args.alpha_dir, references, args.reference_alpha, args.reference_beta, models)
    text = report(args.env, runs, args.regions)
    atomic_write_text(Path(args.alpha_dir) / "alpha_table.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
