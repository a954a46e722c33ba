"""Rebuild every benchmark table and figure from the committed results, without training anything.

python studies/reports.py [--results benchmarks/results] [--dry-run]

For each sweep folder (a folder with runs/*/eval.json, made by regions.py) it runs
``regions.py --report-only``; for each ablation folder ``ablation.py --report-only``; for each relaxation study
(relax_alpha/<env>, folders of variant sweeps) ``alpha_report.py`` against regions_fast/<env> and
sample_efficiency/<env>; for each residual-beta study (residual_beta/<env>) ``alpha_report.py`` against equi and
residual in sample_efficiency/<env>; for each steps curve
(steps_curve/<env>) ``steps_report.py`` with the regions_fast, regions_fast_plain30k and sample_efficiency sweeps
of that env; for each robomimic image curve (robomimic_image/<name>_steps, seed 0 at 100 demos)
``steps_report.py`` with the full-budget sweep robomimic_image/<name>; for each strided-encoder sweep
(robomimic_image/<name>_stride) ``compare_runs.py`` of its equi against plain and equi of robomimic_image/<name>
(``equi_vs_plain.md``, ``equi_vs_pooled.md``), and in each full robomimic image sweep that has both, relaxed
against plain (``relaxed_vs_plain.md``); ``image_relax_report.py`` once the relaxed-convolution image study has a
run; ``breaks_report.py`` when <results>/breaks/push-wall exists; last,
``hypotheses.py`` (the sample-efficiency study's hypotheses from sample_efficiency, sample_efficiency_plain30k and regions_lift). Stops at the
first report that fails, naming it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli

STUDIES = Path(__file__).resolve().parent
RESULTS = STUDIES.parent / "benchmarks" / "results"  # what the studies and the benchmarks measured


def sweep_env(folder: Path) -> str:
    """The env of a sweep folder: recorded in its first finished run or, for eval.json files from before the env
    was recorded, the nearest enclosing folder named after an env (sweeps are kept under <...>/<env>/...)."""
    from equidiff_relaxed.envs import env_names
    from studies.lib.sweep import read_run

    env = read_run(min(folder.glob("runs/*/eval.json"))).get("env")
    named = [p.name for p in (folder, *folder.parents) if p.name in env_names()]
    if not (env or named):
        raise UserError("cannot tell the env of this sweep (no env in its eval.json, no folder named after one)",
                        folder)
    return env or named[0]


def report_commands(results: Path) -> list[list[str]]:
    """The report commands for every results folder under ``results``, sweeps first, then the studies over them."""
    sweeps = sorted({p.parents[2] for p in results.rglob("eval.json") if p.parents[1].name == "runs"})
    commands: list[list[str]] = []
    for folder in sweeps:
        if folder.parent.name == "ablation":
            commands.append(["ablation.py", "--env", folder.name, "--out", str(folder), "--report-only"])
        else:
            commands.append(["regions.py", "--env", sweep_env(folder), "--out", str(folder), "--report-only",
                             "--quiet"])
    for study in sorted(results.glob("relax_alpha/*/")):
        refs = [str(results / name / study.name) for name in ("regions_fast", "sample_efficiency")]
        commands.append(["alpha_report.py", "--env", study.name, "--alpha-dir", str(study), "--reference", ",".join(refs)])
    for study in sorted(results.glob("residual_beta/*/")):
        commands.append(["alpha_report.py", "--env", study.name, "--alpha-dir", str(study), "--reference",
                         str(results / "sample_efficiency" / study.name), "--reference-models", "equi,residual"])
    for curve in sorted(results.glob("steps_curve/*/")):
        also = [results / name / curve.name for name in ("regions_fast", "regions_fast_plain30k", "sample_efficiency")]
        commands.append(["steps_report.py", "--env", curve.name, "--out", str(curve),
                         "--also", ",".join(str(p) for p in also if p.is_dir())])
    for curve in sorted(results.glob("robomimic_image/*_steps/")):  # beside the full-budget sweep it extends
        full = curve.parent / curve.name.removesuffix("_steps")
        commands.append(["steps_report.py", "--env", "robomimic", "--out", str(curve), "--demos", "100",
                         "--seeds", "0", *(["--also", str(full)] if full.is_dir() else [])])
    for stride in sorted(results.glob("robomimic_image/*_stride/")):  # the strided encoder against the full sweep
        full = stride.parent / stride.name.removesuffix("_stride")
        if full.is_dir():
            for model, name in (("plain", "equi_vs_plain.md"), ("equi", "equi_vs_pooled.md")):
                commands.append(["compare_runs.py", f"{stride}:equi", f"{full}:{model}", "--out", str(stride / name)])
    for full in sorted(results.glob("robomimic_image/*/")):  # relaxed against plain (regions.py pairs with equi)
        if any(full.glob("runs/relaxed_n*/eval.json")) and any(full.glob("runs/plain_n*/eval.json")):
            commands.append(["compare_runs.py", f"{full}:relaxed", f"{full}:plain", "--out",
                             str(full / "relaxed_vs_plain.md")])
    if any((results / "robomimic_image" / "lift_stride").glob("runs/relaxed_conv_n*/eval.json")) or any(
            (results / "robomimic_image" / "lift_steps").glob("steps*/runs/relaxed_conv_n*/eval.json")):
        commands.append(["image_relax_report.py", "--results", str(results)])  # the relaxed-convolution image study
    if (results / "breaks" / "push-wall").is_dir():
        commands.append(["breaks_report.py", "--results", str(results)])
    if (results / "sample_efficiency").is_dir():
        commands.append(["hypotheses.py", "--results", str(results)])
    return commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.relpath(RESULTS))
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    results = Path(args.results)
    if not results.is_dir():
        raise UserError("not a folder", results)
    commands = report_commands(results)
    for i, cmd in enumerate(commands, 1):
        print(f"[{i}/{len(commands)}] python studies/{' '.join(cmd)}", flush=True)
        if args.dry_run:
            continue
        proc = subprocess.run([sys.executable, str(STUDIES / cmd[0]), *cmd[1:]], capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise UserError(f"report failed: python studies/{' '.join(cmd)}: {last}")
    print(f"rebuilt {len(commands)} reports" if not args.dry_run else f"{len(commands)} reports")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
