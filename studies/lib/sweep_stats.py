"""Seed-aware statistics of a sweep's finished runs: per-cell bootstrap intervals and paired family comparisons,
over all regions and separately over the regions where the task breaks the symmetry and the rest.

A cell is (model, demos); its outcomes are a (seeds, episodes) 0/1 array with one row per seed (sorted) and the
episodes in plan order (region, index). Runs with the same seed are evaluated on the same plan, so two cells are
paired on the seeds they share. See :mod:`equidiff_relaxed.eval.significance` for the tests.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from equidiff_relaxed.errors import UserError
from studies.lib.significance import Interval, PairedComparison, bootstrap_interval, paired_bootstrap

SUBSETS = ("all", "broken", "symmetric")
BREAK_RATIO = 0.5  # a region whose demonstrations deviate from their rotated neighbours at least this much is "broken"


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


def broken_from_data(ratios: list[float] | None) -> list[int]:
    """The regions whose data symmetry-break ratio is >= :data:`BREAK_RATIO` (none if the ratios are unknown)."""
    return [k for k, v in enumerate(ratios or []) if v >= BREAK_RATIO]


def sweep_broken_regions(out: Path, results: list[dict[str, Any]]) -> list[int]:
    """A sweep folder's broken regions: ``<out>/sweep.json``'s declaration where there is one, else the regions whose
    data symmetry-break ratio (recorded in ``results``) is >= :data:`BREAK_RATIO`."""
    from studies.lib.sweep_diagnostics import data_ratios

    declared = declared_broken_regions(out)
    return sorted(set(declared)) if declared is not None else broken_from_data(data_ratios(results))


def cells(results: list[dict[str, Any]]) -> dict[tuple[str, int], dict[int, dict[tuple[int, int], bool]]]:
    """{(model, demos): {seed: {(region, index): success}}} of the runs' eval.json results."""
    table: dict[tuple[str, int], dict[int, dict[tuple[int, int], bool]]] = {}
    for r in results:
        table.setdefault((r["model"], r["demos"]), {})[int(r["seed"])] = {
            (int(e["region"]), int(e["index"])): bool(e["success"]) for e in r["episodes"]}
    return table


def outcome_array(runs: dict[int, dict[tuple[int, int], bool]], seeds: list[int], regions: set[int] | None
                  ) -> np.ndarray:
    """(len(seeds), episodes) 0/1 array of ``runs`` restricted to ``regions`` (None: all), episodes that every
    seed has, in (region, index) order."""
    keys = sorted(set.intersection(*(set(runs[s]) for s in seeds)))
    keys = [k for k in keys if regions is None or k[0] in regions]
    return np.array([[runs[s][k] for k in keys] for s in seeds], dtype=float).reshape(len(seeds), len(keys))


def subset_regions(subset: str, n_regions: int, broken: list[int]) -> set[int] | None:
    if subset == "all":
        return None
    return set(broken) if subset == "broken" else set(range(n_regions)) - set(broken)


def cell_intervals(results: list[dict[str, Any]], n_regions: int, broken: list[int]
                   ) -> dict[tuple[str, int], dict[str, Interval | None]]:
    """Per cell and subset (all / broken / symmetric regions): mean success with its two-level bootstrap interval
    (None for an empty subset)."""
    out: dict[tuple[str, int], dict[str, Interval | None]] = {}
    for key, runs in cells(results).items():
        seeds = sorted(runs)
        out[key] = {}
        for subset in SUBSETS:
            x = outcome_array(runs, seeds, subset_regions(subset, n_regions, broken))
            out[key][subset] = bootstrap_interval(x) if x.size else None
    return out


def compare(results: list[dict[str, Any]], a: str, b: str, demos: int, n_regions: int, broken: list[int]
            ) -> dict[str, PairedComparison | None] | None:
    """a − b at ``demos`` on the seeds both have, per subset; None if they share no seed."""
    table = cells(results)
    if (a, demos) not in table or (b, demos) not in table:
        return None
    ra, rb = table[(a, demos)], table[(b, demos)]
    seeds = sorted(set(ra) & set(rb))
    if not seeds:
        return None
    out: dict[str, PairedComparison | None] = {}
    for subset in SUBSETS:
        regions = subset_regions(subset, n_regions, broken)
        shared = {s: {k: v for k, v in ra[s].items() if k in rb[s]} for s in seeds}
        xa = outcome_array(shared, seeds, regions)
        xb = outcome_array({s: {k: rb[s][k] for k in shared[s]} for s in seeds}, seeds, regions)
        out[subset] = paired_bootstrap(xa, xb) if xa.size else None
    return out


def default_pairs(models: list[str]) -> list[tuple[str, str]]:
    """Every model against equi (if equi is there), equi against plain, and each fine-tuned model
    ``<family>_from_<base>`` against its family trained from scratch (the recipe question: from-scratch vs from-base)."""
    pairs = [(m, "equi") for m in models if m != "equi" and "equi" in models]
    if "equi" in models and "plain" in models:
        pairs = [p for p in pairs if p != ("plain", "equi")] + [("equi", "plain")]
    for m in models:
        family = m.split("_from_")[0]
        if "_from_" in m and family in models and family != "equi":
            pairs.append((m, family))
    return pairs


def _p(p: float) -> str:
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def format_interval(iv: Interval | None) -> str:
    """``0.93 (0.88–0.97)``; "–" for no interval."""
    return "–" if iv is None else f"{iv.value:.2f} ({iv.lo:.2f}–{iv.hi:.2f})"


def format_difference(iv: Interval) -> str:
    """A signed difference with its interval: ``+0.07 (-0.02 to +0.15)``."""
    return f"{iv.value:+.2f} ({iv.lo:+.2f} to {iv.hi:+.2f})"


def intervals_markdown(results: list[dict[str, Any]], n_regions: int, broken: list[int], order: Any) -> str:
    """One row per cell: seeds, and mean success with its bootstrap interval over all / broken / symmetric regions."""
    table = cell_intervals(results, n_regions, broken)
    lines = ["| model | demos | seeds | all regions | broken regions | symmetric regions |", "|---|---|---|---|---|---|"]
    runs = cells(results)
    for (model, demos), row in sorted(table.items(), key=lambda kv: (kv[0][1], order(kv[0][0]))):
        lines.append(f"| {model} | {demos} | {len(runs[(model, demos)])} | {format_interval(row['all'])} | "
                     f"{format_interval(row['broken'])} | {format_interval(row['symmetric'])} |")
    return "\n".join(lines)


def comparisons_markdown(results: list[dict[str, Any]], n_regions: int, broken: list[int],
                         pairs: list[tuple[str, str]]) -> str:
    """One row per (pair, demos, subset): paired difference with interval, bootstrap and McNemar p-values."""
    lines = ["| a − b | demos | seeds | regions | difference (95 % interval) | p (bootstrap) | p (McNemar) | "
             "a only / b only |", "|---|---|---|---|---|---|---|---|"]
    runs = cells(results)
    for a, b in pairs:
        for demos in sorted({d for m, d in runs if m == a}):
            found = compare(results, a, b, demos, n_regions, broken)
            if found is None:
                continue
            seeds = len(set(runs[(a, demos)]) & set(runs[(b, demos)]))
            for subset, c in found.items():
                if c is not None:
                    lines.append(f"| {a} − {b} | {demos} | {seeds} | {subset} | {format_difference(c.diff)} | "
                                 f"{_p(c.p_bootstrap)} | {_p(c.p_mcnemar)} | {c.a_only} / {c.b_only} |")
    return "\n".join(lines)


def plot_subset_curves(results: list[dict[str, Any]], n_regions: int, broken: list[int],
                       path: str | os.PathLike, order: Any, color: Any, title: str = "",
                       xlabel: str = "demonstrations", log_x: bool = False) -> None:
    """Success vs demos per model, one panel per subset (all / broken / symmetric regions; only "all" when the data
    break every region or none), bootstrap intervals.
    (The x axis is the cell key's second entry: a steps curve passes runs whose ``demos`` holds their steps.)"""
    from equidiff_relaxed.eval.report import save_figure  # selects the Agg backend first

    import matplotlib.pyplot as plt

    table = cell_intervals(results, n_regions, broken)
    models = sorted({m for m, _ in table}, key=order)
    n_broken = len(set(broken) & set(range(n_regions)))
    subsets = list(SUBSETS) if 0 < n_broken < n_regions else ["all"]
    fig, axes = plt.subplots(1, len(subsets), figsize=(13 * len(subsets) / 3 + 0.6 * (len(subsets) < 3), 4.2),
                             sharey=True, squeeze=False)
    axes = axes[0]
    for ax, subset in zip(axes, subsets):
        for m in models:
            pts = sorted((d, row[subset]) for (mm, d), row in table.items() if mm == m and row[subset] is not None)
            if not pts:
                continue
            xs = [d for d, _ in pts]
            ys = np.array([iv.value for _, iv in pts])
            err = [np.clip(ys - [iv.lo for _, iv in pts], 0, None), np.clip([iv.hi for _, iv in pts] - ys, 0, None)]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, color=color(m), label=m)
        label = {"all": "all regions", "broken": f"broken regions {sorted(broken)}",
                 "symmetric": "symmetric regions"}[subset]
        ax.set_title(f"{title}: {label}", fontsize=9)
        ax.set_xlabel(xlabel)
        if log_x:  # ticks at the measured x values, written out
            ax.set_xscale("log")
            ax.set_xticks(sorted({d for _, d in table}))
            ax.xaxis.set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_locator(plt.matplotlib.ticker.NullLocator())
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("success (bootstrap over seeds and episodes)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


__all__ = ["BREAK_RATIO", "SUBSETS", "broken_from_data", "cell_intervals", "cells", "compare", "comparisons_markdown", "default_pairs",
           "declared_broken_regions", "format_difference", "format_interval", "intervals_markdown", "outcome_array",
           "plot_subset_curves", "sweep_broken_regions"]
