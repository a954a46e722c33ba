"""The breaks-that-hurt study on push-wall in one table and one figure: success per region beside where each family
broke symmetry, and the break-strength dial.

python studies/breaks_report.py [--results benchmarks/results] [--demos 25]

Reads the sweeps of studies/regions.py: <results>/breaks/push-wall (full strength) with
<results>/breaks_plain30k/push-wall (plain at its converged budget, shown as plain@30k), and the dial
<results>/breaks_dial/strength<s> with <results>/breaks_dial_plain30k/strength<s> (s = 0, 0.25, 0.5; strength 1 is
the full-strength sweep). Writes <results>/breaks/dial.md (success in the broken region 2, the symmetric regions
0, 4-7 and all regions per family and strength at ``--demos``, bootstrap 95 % intervals over seeds and episodes) and
<results>/breaks/breaks.png: success per region (polar, pooled over seeds), the mean gate and the equivariance
error per region of the non-exact families (polar, each normalised to its maximum, beside the data's break ratio),
and success vs break strength in the broken and the symmetric regions.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli

N_REGIONS = 8
BROKEN, SYMMETRIC = [2], [0, 4, 5, 6, 7]  # the wall blocks region 2 (and parts of regions 1 and 3)
STRENGTHS = (0.0, 0.25, 0.5, 1.0)
SUBSETS = {"broken (2)": BROKEN, "symmetric (0, 4–7)": SYMMETRIC, "all": list(range(N_REGIONS))}
PLAIN30K = "plain@30k"


def strength_runs(results: Path, strength: float) -> list[dict[str, Any]]:
    """The finished runs at one break strength (plain at its converged budget labelled plain@30k)."""
    from studies.hypotheses import load_folders

    if strength == 1.0:
        return load_folders(results / "breaks" / "push-wall", results / "breaks_plain30k" / "push-wall")
    name = f"strength{strength:g}"
    return load_folders(results / "breaks_dial" / name, results / "breaks_dial_plain30k" / name)


def label_order(label: str) -> tuple[int, int]:
    from studies.lib.sweep import model_order

    return (-1, 0) if label == PLAIN30K else model_order(label)


def label_color(label: str) -> str:
    from studies.lib.sweep import model_color

    return "k" if label == PLAIN30K else model_color(label)


def subset_interval(runs: list[dict[str, Any]], model: str, demos: int, regions: list[int]):
    """Mean success of ``model`` at ``demos`` over ``regions`` with its two-level bootstrap interval (None if absent)."""
    from studies.lib.significance import bootstrap_interval
    from studies.lib.sweep_stats import cells, outcome_array

    cell = cells(runs).get((model, demos))
    if not cell:
        return None
    return bootstrap_interval(outcome_array(cell, sorted(cell), set(regions)))


def dial_table(dial: dict[float, list[dict[str, Any]]], demos: int) -> tuple[str, dict]:
    """Markdown table of the dial and {(model, strength): {subset: Interval}}."""
    from studies.lib.sweep_stats import format_interval

    found: dict[tuple[str, float], dict[str, Any]] = {}
    for strength, runs in dial.items():
        for model in {r["model"] for r in runs if r["demos"] == demos}:
            found[(model, strength)] = {name: subset_interval(runs, model, demos, regions)
                                        for name, regions in SUBSETS.items()}
    lines = [f"push-wall, {demos} demos: success vs break strength (0 = no wall, 1 = the full wall; bootstrap 95 % "
             "intervals over seeds and episodes)", "",
             "| model | strength | seeds | " + " | ".join(SUBSETS) + " |", "|---|---|---|" + "---|" * len(SUBSETS)]
    for (model, strength), row in sorted(found.items(), key=lambda kv: (label_order(kv[0][0]), kv[0][1])):
        seeds = len({r["seed"] for r in dial[strength] if r["model"] == model and r["demos"] == demos})
        lines.append(f"| {model} | {strength:g} | {seeds} | " + " | ".join(map(format_interval, row.values())) + " |")
    return "\n".join(lines) + "\n", found


def per_region(runs: list[dict[str, Any]], model: str, demos: int, key: str) -> list[float] | None:
    """Mean over seeds of a per-region list in eval.json (``gate_per_region``; ``equivariance_error_per_region``
    as its relative error), or None when no run has one entry per region."""
    rows = [r[key] for r in runs
            if r["model"] == model and r["demos"] == demos and len(r.get(key) or []) == N_REGIONS]
    if not rows:
        return None
    rows = [[e["rel"] if isinstance(e, dict) else e for e in row] for row in rows]
    return [sum(row[k] for row in rows) / len(rows) for k in range(N_REGIONS)]


def plot(full: list[dict[str, Any]], found: dict, demos: int, path: Path) -> None:
    """The 2 × 2 figure described in the module docstring."""
    from studies.lib.sweep_diagnostics import data_ratios
    from equidiff_relaxed.eval.report import save_figure  # selects the Agg backend first
    from studies.lib.sweep_stats import cells
    from equidiff_relaxed.policy.families import family_names, get_family

    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(12, 11))
    width = 2 * math.pi / N_REGIONS
    theta = np.arange(N_REGIONS) * width
    table = {m: cell for (m, d), cell in cells(full).items() if d == demos}
    models = sorted(table, key=label_order)
    ax = fig.add_subplot(2, 2, 1, projection="polar")
    for j, m in enumerate(models):
        episodes = [(k, ok) for seed in table[m].values() for (k, _), ok in seed.items()]
        rates = [np.mean([ok for kk, ok in episodes if kk == k]) for k in range(N_REGIONS)]
        ax.bar(theta + width * (j + 0.5) / len(models), rates, width=width / len(models) * 0.9, alpha=0.75,
               color=label_color(m), label=f"{m} ({len(table[m])} seeds, mean {np.mean([ok for _, ok in episodes]):.2f})")
    ax.set_ylim(0, 1)
    ax.set_rlabel_position(0)
    ax.plot([math.radians(112.5)] * 2, [0.93, 1.0], color="firebrick", lw=4)
    ax.annotate("wall", (math.radians(112.5), 1.0), xytext=(0, 8), textcoords="offset points", ha="center",
                color="firebrick", fontsize=8)
    ax.set_title(f"push-wall, {demos} demos: success per region", fontsize=10)
    ax.legend(loc="lower left", bbox_to_anchor=(-0.15, -0.3), fontsize=7, ncol=2)
    bx = fig.add_subplot(2, 2, 2, projection="polar")
    closed = np.append(theta + width / 2, width / 2)
    ratios = data_ratios(full)
    if ratios is not None and len(ratios) == N_REGIONS:
        bx.fill(closed, np.append(ratios, ratios[0]) / max(ratios), color="grey", alpha=0.25, label="data break ratio")
    breaking = [m for m in models if m in family_names() and not get_family(m).exact and m != "plain"]
    for m in breaking:
        for key, style, what in (("equivariance_error_per_region", "-", "equivariance error"),
                                 ("gate_per_region", "--", "mean gate")):
            values = per_region(full, m, demos, key)
            if values is None or max(values) <= 0:
                continue
            bx.plot(closed, np.append(values, values[0]) / max(values), style, marker="o", color=label_color(m),
                    label=f"{m}: {what} (max {max(values):.3g})")
    bx.set_ylim(0, 1.05)
    bx.set_rlabel_position(0)
    bx.set_title("where each family broke symmetry (each curve / its maximum)", fontsize=10)
    bx.legend(loc="lower left", bbox_to_anchor=(-0.15, -0.3), fontsize=7, ncol=2)
    for i, (name, _) in enumerate(list(SUBSETS.items())[:2]):
        cx = fig.add_subplot(2, 2, 3 + i)
        for m in sorted({m for m, s in found if s != 1.0}, key=label_order):  # the families on the dial
            pts = sorted((s, row[name]) for (mm, s), row in found.items() if mm == m and row[name] is not None)
            ys = np.array([iv.value for _, iv in pts])
            err = [np.clip(ys - [iv.lo for _, iv in pts], 0, None), np.clip([iv.hi for _, iv in pts] - ys, 0, None)]
            cx.errorbar([s for s, _ in pts], ys, yerr=err, marker="o", capsize=3, color=label_color(m), label=m)
        cx.set_xticks(STRENGTHS)
        cx.set_ylim(0, 1.02)
        cx.set_xlabel("break strength (wall length / full length)")
        cx.set_ylabel(f"success, {demos} demos")
        cx.set_title(f"regions {name}", fontsize=10)
        cx.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.relpath(Path(__file__).resolve().parents[1] / "benchmarks" / "results"))
    parser.add_argument("--demos", type=int, default=25)
    args = parser.parse_args(argv)
    results = Path(args.results)
    out = results / "breaks"
    dial = {s: strength_runs(results, s) for s in STRENGTHS}
    if not [r for r in dial[1.0] if r["demos"] == args.demos]:
        raise UserError(f"no finished full-strength runs with {args.demos} demos", out / "push-wall")
    from equidiff_relaxed.data.atomic import atomic_write_text

    text, found = dial_table(dial, args.demos)
    atomic_write_text(out / "dial.md", text)
    plot(dial[1.0], found, args.demos, out / "breaks.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
