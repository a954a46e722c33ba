"""The relaxation-strength study: relaxed at several alpha on the same data and episodes, against equi, per region
subset (broken / symmetric), with seed-aware intervals, paired tests, the learned weights' movement and the rank
correlation between the model's equivariance error and the data's symmetry-break ratio.

python benchmarks/alpha_report.py --env push-pillar --alpha-dir benchmarks/results/relax_alpha/push-pillar \
    --reference benchmarks/results/regions_fast/push-pillar
Reads <alpha-dir>/alpha<a>/runs/*/eval.json (made by regions.py --set model.relax_alpha=<a>) and, from --reference,
the equi runs and the relaxed runs at the configs' alpha (1e-3); writes <alpha-dir>/alpha_table.md.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--alpha-dir", required=True)
    parser.add_argument("--reference", required=True, help="sweep folder with the equi and alpha-1e-3 relaxed runs")
    parser.add_argument("--reference-alpha", default="1e-3")
    parser.add_argument("--regions", type=int, default=8)
    args = parser.parse_args(argv)
    import numpy as np
    from scipy.stats import spearmanr

    from equidiff_relaxed.data.atomic import atomic_write_text
    from equidiff_relaxed.eval.sweep import data_ratios, finished_runs, mean_error_per_region
    from equidiff_relaxed.eval.sweep_stats import broken_from_data, cell_intervals, compare

    runs = [dict(r, model=f"relaxed α={args.reference_alpha}") if r["model"] == "relaxed" else r
            for r in finished_runs(args.reference) if r["model"] in ("equi", "relaxed")]
    folders = sorted((p for p in Path(args.alpha_dir).glob("alpha*") if p.is_dir()), key=lambda p: float(p.name[5:]))
    for folder in folders:
        runs += [dict(r, model=f"relaxed α={folder.name[5:]}") for r in finished_runs(folder)]
    if not folders or not runs:
        raise UserError("no alpha runs (alpha<a>/runs/*/eval.json) or reference runs", args.alpha_dir)
    ratios = data_ratios(runs) or []
    broken = broken_from_data(ratios)
    cells = cell_intervals(runs, args.regions, broken)
    lines = [f"{args.env}: relaxed at several alpha vs equi (100 demos; bootstrap 95% intervals over seeds and "
             f"episodes); broken regions {broken}", "",
             "| model | seeds | all | broken | symmetric | mean \\|w − w(e)\\| | ρ(eq. error, data break) | "
             "broken vs equi: diff, p (McNemar) |", "|---|---|---|---|---|---|---|---|"]
    labels = sorted({r["model"] for r in runs}, key=lambda m: (m != "equi", m))
    for label in labels:
        mine = [r for r in runs if r["model"] == label]
        key = (label, mine[0]["demos"])
        dev = [layer["mean_abs_deviation_from_identity"] for r in mine for layer in (r.get("relaxation") or {}).values()]
        errors = np.array(mean_error_per_region(mine, args.regions))
        rho = spearmanr(errors, ratios).statistic if dev and ratios and np.ptp(errors) > 1e-6 else float("nan")
        vs = compare(runs, label, "equi", key[1], args.regions, broken) if label != "equi" else None
        c = vs["broken"] if vs else None
        fmt = {k: f"{v.value:.2f} ({v.lo:.2f}–{v.hi:.2f})" if v else "–" for k, v in cells[key].items()}
        lines.append(f"| {label} | {len(mine)} | {fmt['all']} | {fmt['broken']} | {fmt['symmetric']} | "
                     + (f"{np.mean(dev):.1e}" if dev else "–") + f" | {rho:.2f} | "
                     + (f"{c.diff.value:+.2f} ({c.diff.lo:+.2f} to {c.diff.hi:+.2f}), p = {c.p_mcnemar:.3g}" if c else "")
                     + " |")
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(args.alpha_dir) / "alpha_table.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
