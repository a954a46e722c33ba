"""Where a sweep's models broke symmetry: equivariance error per region, relaxation weights, the data's own
symmetry-break ratio, and how well the two agree (``diagnostics.md`` / ``diagnostics.png`` of studies/regions.py).

Reads the runs' eval.json results: ``equivariance_error_per_region`` (relative error per orientation region, 0 for
an exactly equivariant model), ``relaxation`` (per relaxed layer: the weights w_l(h), one per group element h, and
their mean |w_l(h) - 1/L|) and ``data_symmetry_map`` (per region: how far the demonstrations deviate from their
rotated neighbours, ``data.symmetry_map``).
"""
from __future__ import annotations

import math
import os
from typing import Any

from studies.lib.sweep import model_color, model_order, parse_model
from equidiff_relaxed.policy.families import family_names, get_family

MOVED_ERROR = 1e-3  # a model whose relative equivariance error stays below this in every region counts as exact


def mean_error_per_region(runs: list[dict[str, Any]], n_regions: int) -> list[float]:
    """Relative equivariance error per region, mean over ``runs`` (their eval.json results)."""
    errors = [[e["rel"] for e in r["equivariance_error_per_region"]] for r in runs]
    return [sum(e[k] for e in errors) / len(errors) for k in range(n_regions)]


def data_ratios(results: list[dict[str, Any]]) -> list[float] | None:
    """The data's symmetry-break ratio per region (from the first run that recorded it), or None."""
    for r in results:
        for rows in (r.get("data_symmetry_map") or {}).values():
            return [row["ratio"] for row in rows]
    return None


def error_break_correlation(errors: list[float], ratios: list[float] | None) -> float:
    """Spearman rank correlation over regions between a model's equivariance error and the data's symmetry-break
    ratio: near 1 when the model broke symmetry where the data do. NaN when the ratios are unknown or the model
    stayed exactly equivariant (error < ``MOVED_ERROR`` everywhere: no ranking to speak of)."""
    if not ratios or len(ratios) != len(errors) or max(errors) < MOVED_ERROR:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(errors, ratios).statistic)


def diagnostics_table(results: list[dict[str, Any]], n_regions: int) -> str:
    """Where each model broke symmetry: relative equivariance error per region (mean over seeds; 0 = exactly
    equivariant) per (model, demos), the mean |w_l(h) - 1/L| of the relaxed layers, the rank correlation ρ of the
    error with the data's break ratio (:func:`error_break_correlation`), and the dataset's own symmetry-break ratio
    per region (demonstrations vs their rotated neighbours; > 1 = the data is not symmetric)."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        if r.get("equivariance_error_per_region"):
            groups.setdefault((r["model"], r["demos"]), []).append(r)
    ratios = data_ratios(results)
    head = "| model | demos | " + " | ".join(f"region {k}" for k in range(n_regions)) + " | relaxation | ρ |"
    lines = [head, "|" + "---|" * (n_regions + 4)]
    for (model, demos), runs in sorted(groups.items(), key=lambda kv: (kv[0][1], model_order(kv[0][0]))):
        errors = mean_error_per_region(runs, n_regions)
        dev = [layer["mean_abs_deviation_from_identity"] for r in runs for layer in (r.get("relaxation") or {}).values()]
        relax = f"{sum(dev) / len(dev):.4f}" if dev else "–"
        rho = error_break_correlation(errors, ratios)
        lines.append(f"| {model} | {demos} | " + " | ".join(f"{e:.3f}" for e in errors) + f" | {relax} | "
                     + ("–" if math.isnan(rho) else f"{rho:+.2f}") + " |")
    if ratios is not None:
        lines.append("| *data break ratio* | all | " + " | ".join(f"*{v:.2f}*" for v in ratios) + " | | |")
    return "\n".join(lines)


def plot_diagnostics(results: list[dict[str, Any]], n_regions: int, path: str | os.PathLike, title: str = "") -> None:
    """Left: equivariance error per region (mean over seeds) per model and demo count, with the data's break ratio;
    right: the first symmetry-breaking family in registry order (relaxed, ...) at its most demos, w_l(h) - mean_h w_l(h)
    per layer and bank (mean over seeds)."""
    from equidiff_relaxed.eval.report import relaxation_heatmap, save_figure  # selects the Agg backend first

    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax, hax) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.1, 1]})
    regions = np.arange(n_regions)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        if r.get("equivariance_error_per_region") and get_family(parse_model(r["model"])[0]).starts_exact:
            groups.setdefault((r["model"], r["demos"]), []).append(r)
    styles = {d: s for d, s in zip(sorted({d for _, d in groups}), ("--", "-", ":", "-."))}
    for (model, demos), runs in sorted(groups.items(), key=lambda kv: (model_order(kv[0][0]), kv[0][1])):
        ax.plot(regions, mean_error_per_region(runs, n_regions), marker="o", linestyle=styles.get(demos, "-"),
                color=model_color(model), label=f"{model}, {demos} demos")
    ax.set_xlabel("orientation region")
    ax.set_ylabel("relative equivariance error")
    ax.set_xticks(regions)
    ratios = data_ratios(results)
    if ratios is not None:
        bx = ax.twinx()
        bx.bar(regions, ratios, color="grey", alpha=0.25, label="data break ratio")
        bx.set_ylabel("data symmetry-break ratio (bars)")
    ax.legend(fontsize=7)
    ax.set_title(f"{title}: where the models broke symmetry", fontsize=10)
    relaxed = [r for r in results if r["model"] in family_names() and get_family(r["model"]).learns_breaking
               and r.get("relaxation")]
    if relaxed:  # one family (the first in registry order): families' weights differ in shape (cosets, 2N, ...)
        model = min({r["model"] for r in relaxed}, key=model_order)
        most = max(r["demos"] for r in relaxed if r["model"] == model)
        runs = [r for r in relaxed if r["model"] == model and r["demos"] == most]
        layers = {name: np.mean([r["relaxation"][name]["weights"] for r in runs], axis=0).tolist()
                  for name in runs[0]["relaxation"]}
        im = relaxation_heatmap(hax, layers, f"{model}, {most} demos (mean over seeds): w_l(h) - mean_h w_l(h)")
        fig.colorbar(im, ax=hax)
    else:
        hax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
