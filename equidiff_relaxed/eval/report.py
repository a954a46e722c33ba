"""Reports of a per-region evaluation: terminal tables (success, failure categories), results.json, regions.csv,
regions.png, relaxation.png."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from equidiff_relaxed.envs.outcomes import FAULTS, UNKNOWN  # noqa: E402
from equidiff_relaxed.envs.registry import analyses, failure_categories, failure_columns  # noqa: E402
from equidiff_relaxed.eval.rollouts import EpisodeResult  # noqa: E402
from equidiff_relaxed.eval.stats import RegionStats  # noqa: E402
from equidiff_relaxed.symmetry.regions import region_bounds  # noqa: E402


def region_stats(results: list[EpisodeResult], n_regions: int) -> list[RegionStats]:
    rows = []
    for k in range(n_regions):
        mine = [r for r in results if r.spec.region == k]
        lo, hi = region_bounds(k, n_regions)
        rows.append(RegionStats(k, lo, hi, len(mine), sum(r.success for r in mine)))
    return rows


def failure_counts(results: list[EpisodeResult], n_regions: int) -> list[dict[str, int]]:
    """Per region, the number of failed episodes in each registered category (``registry.failure_categories``;
    all keys present)."""
    counts = [{c: 0 for c in failure_categories()} for _ in range(n_regions)]
    for r in results:
        if r.failure is not None:
            counts[r.spec.region][r.failure] += 1
    return counts


OPTIONAL_COLUMNS = (UNKNOWN, *FAULTS)  # shown only when some episode has them


def shown_categories(counts: list[list[dict[str, int]]]) -> list[str]:
    """Columns of a failure table: the categories of the fewest registered failure analyses, smallest first, that
    cover every category with failures here (the first analysis's when there are none), plus ``unknown`` and the
    env faults where any episode has them."""
    def seen(group: tuple[str, ...]) -> bool:
        return any(row.get(c, 0) for t in counts for row in t for c in group)

    kinds = [a.names for a in analyses()]
    failed = {c for kind in kinds for c in kind if seen((c,))}
    groups: list[tuple[str, ...]] = []
    for kind in sorted(kinds, key=len):
        if failed - {c for g in groups for c in g} & set(kind) and seen(kind):
            groups.append(kind)
    groups = groups or kinds[:1]
    return [c for c in failure_categories() if any(c in g for g in groups) or (c in OPTIONAL_COLUMNS and seen((c,)))]


def format_failure_table(names: list[str], counts: list[list[dict[str, int]]]) -> str:
    """Failed episodes per region and category, one column group per checkpoint (columns: :func:`shown_categories`)."""
    cats = shown_categories(counts)
    columns = failure_columns()
    col = {c: max(7, len(columns[c]) + 1) for c in cats}  # at least one space between column labels
    width = 6 + sum(col.values())
    legend = ", ".join(f"{columns[c]} = {c}" for c in cats)
    lines = [f"failed episodes per region ({legend})",
             f"{'region':>6} " + " ".join(f"{n[-width:]:>{width}}" for n in names),
             f"{'':>6} " + " ".join(f"{'fail':>6}" + "".join(f"{columns[c]:>{col[c]}}" for c in cats) for _ in names)]
    lines.append("-" * len(lines[-1]))

    def row(label: str, cells: list[dict[str, int]]) -> str:
        return f"{label:>6} " + " ".join(f"{sum(c.values()):>6}" + "".join(f"{c.get(k, 0):>{col[k]}}" for k in cats)
                                         for c in cells)

    for k in range(len(counts[0])):
        lines.append(row(str(k), [t[k] for t in counts]))
    lines.append(row("all", [{c: sum(r.get(c, 0) for r in t) for c in failure_categories()} for t in counts]))
    return "\n".join(lines)


def mean_success(rows: list[RegionStats]) -> float:
    rates = [r.rate for r in rows if r.episodes]
    return float(np.mean(rates)) if rates else math.nan


def run_name(checkpoint: str) -> str:
    """A table column's name for ``checkpoint``: the run folder of a train.py checkpoint (``runs/demo/equi`` for
    ``runs/demo/equi/checkpoints/last.ckpt`` or ``.../checkpoints/policy``), any other path as it is."""
    path = Path(checkpoint)
    if path.parent.name == "checkpoints" and str(path.parent.parent) not in ("", "."):
        return str(path.parent.parent)
    return checkpoint


def format_table(names: list[str], tables: list[list[RegionStats]]) -> str:
    """One row per region; one column group (successes/episodes, rate, 95% Wilson interval) per checkpoint."""
    head = f"{'region':>6} {'theta (deg)':>13} " + " ".join(f"{n[-34:]:^36}" for n in names)
    lines = [head, f"{'':>6} {'':>13} " + " ".join(f"{'succ/n':>8} {'rate':>6} {'95% CI':>17}  " for _ in names)]
    lines.append("-" * len(lines[1]))
    for k in range(len(tables[0])):
        r0 = tables[0][k]
        cells = []
        for t in tables:
            r = t[k]
            lo, hi = r.interval
            cells.append(f"{r.successes:>3}/{r.episodes:<4} {r.rate:>6.2f} [{lo:>5.2f}, {hi:>5.2f}]   ")
        lines.append(f"{k:>6} {math.degrees(r0.theta_lo):>6.1f}-{math.degrees(r0.theta_hi):<6.1f} " + " ".join(cells))
    lines.append(f"{'mean':>6} {'':>13} " + " ".join(f"{'':>8} {mean_success(t):>6.2f} {'':>17}  " for t in tables))
    return "\n".join(lines)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    os.replace(tmp, path)


def write_csv(path: Path, names: list[str], tables: list[list[RegionStats]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["checkpoint", "region", "theta_lo_deg", "theta_hi_deg", "episodes", "successes", "success_rate",
                    "ci95_lo", "ci95_hi"])
        for name, table in zip(names, tables):
            for r in table:
                lo, hi = r.interval
                w.writerow([name, r.region, f"{math.degrees(r.theta_lo):.1f}", f"{math.degrees(r.theta_hi):.1f}",
                            r.episodes, r.successes, f"{r.rate:.4f}", f"{lo:.4f}", f"{hi:.4f}"])
    os.replace(tmp, path)


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Save ``fig`` as PNG atomically (temporary sibling, then rename) and close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)


def polar_plot(path: Path, names: list[str], tables: list[list[RegionStats]]) -> None:
    """Polar bar chart: success rate per region (bar) with its 95 % interval, checkpoints side by side."""
    n_regions = len(tables[0])
    width = 2 * math.pi / n_regions
    fig = plt.figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="polar")
    m = len(tables)
    for j, (name, table) in enumerate(zip(names, tables)):
        centres = np.array([r.theta_lo for r in table]) + width * (j + 0.5) / m
        rates = np.array([r.rate for r in table])
        lo = np.array([r.interval[0] for r in table])
        hi = np.array([r.interval[1] for r in table])
        ax.bar(centres, rates, width=width / m * 0.9, alpha=0.6, label=f"{Path(name).name} (mean {mean_success(table):.2f})")
        ax.errorbar(centres, rates, yerr=[rates - lo, hi - rates], fmt="none", ecolor="k", capsize=2, lw=1)
    ax.set_ylim(0, 1)
    ax.set_rlabel_position(0)  # on a sector boundary, clear of the bars
    ax.set_title("success rate per orientation region (95% Wilson intervals)", fontsize=10)
    ax.legend(loc="lower left", bbox_to_anchor=(-0.1, -0.15), fontsize=8)
    save_figure(fig, path)


def symmetry_plot(path: Path, labels: list[str], tables: list[list[RegionStats]], errors: list[list[float]],
                  ratios: list[float] | None = None, broken: float = 0.5) -> None:
    """Three panels per orientation region: success (95 % intervals) and equivariance error of each policy side by
    side, and the data's symmetry-break ratio (``ratios``; a line at ``broken``, the ratio above which a region counts
    as broken): where each policy succeeds, where it broke the symmetry, and where the demonstrations do."""
    n_regions = len(tables[0])
    x = np.arange(n_regions)
    m = len(tables)
    width = 0.8 / m
    fig, axes = plt.subplots(1, 3 if ratios is not None else 2, figsize=(15 if ratios is not None else 10, 3.8))
    for j, (label, table, error) in enumerate(zip(labels, tables, errors)):
        rates = np.array([r.rate for r in table])
        lo, hi = np.array([r.interval[0] for r in table]), np.array([r.interval[1] for r in table])
        offset = (j - (m - 1) / 2) * width
        axes[0].bar(x + offset, rates, width, label=f"{label} (mean {mean_success(table):.2f})", alpha=0.8)
        axes[0].errorbar(x + offset, rates, yerr=[rates - lo, hi - rates], fmt="none", ecolor="k", capsize=2, lw=1)
        axes[1].bar(x + offset, np.nan_to_num(np.asarray(error, dtype=float)), width, label=label, alpha=0.8)
    axes[0].set(ylim=(0, 1.05), title="success per orientation region", xlabel="region", ylabel="success rate")
    axes[1].set(title="where the policy broke symmetry", xlabel="region", ylabel="equivariance error (normalised)")
    for ax in axes[:2]:
        ax.set_xticks(x)
        ax.legend(fontsize=8, loc="lower right" if ax is axes[0] else "upper right")
    if ratios is not None:
        values = np.nan_to_num(np.asarray(ratios, dtype=float))
        axes[2].bar(x, values, 0.6, color=["tab:red" if v >= broken else "tab:gray" for v in values])
        axes[2].axhline(broken, color="k", lw=1, ls="--")
        axes[2].set(title="where the demonstrations break it", xlabel="region", ylabel="data symmetry-break ratio")
        axes[2].set_xticks(x)
    fig.tight_layout()
    save_figure(fig, path)


def relaxation_heatmap(ax: plt.Axes, layers: dict[str, list[list[float]]], title: str,
                       element_labels: list[str] | None = None) -> Any:
    """Draw w_l(h) minus its mean over h on ``ax``: one row per (layer, bank) of ``layers`` {name: (L, N) weights},
    one column per group element h (absolute orientation; ``element_labels``, default the C_N angles). Returns the
    image (for a colour bar)."""
    rows, labels = [], []
    for name, weights in layers.items():
        for l, w in enumerate(weights):
            rows.append(w)
            labels.append(f"{name}[{l}]")
    data = np.array(rows)
    data = data - data.mean(axis=1, keepdims=True)  # where, across orientations, each bank departs from its mean
    n = data.shape[1]
    bound = max(float(np.abs(data).max()), 1e-12)
    im = ax.imshow(data, aspect="auto", cmap="coolwarm", vmin=-bound, vmax=bound)
    labels_h = element_labels if element_labels and len(element_labels) == n else [f"{360 * h / n:.0f}°"
                                                                                   for h in range(n)]
    ax.set_xticks(range(n), labels_h, fontsize=7 if n > 8 else None)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xlabel("group element h (absolute orientation)")
    ax.set_title(title, fontsize=9)
    return im


def layer_error_plot(path: Path, errors: dict[str, list[float]]) -> None:
    """Heatmap of each image-encoder convolution's quarter-turn equivariance error (rows, "<checkpoint>:<key>.conv<i>")
    per orientation region (columns): 0 = the layer's output still turns exactly with the image."""
    names = list(errors)
    data = np.array([errors[n] for n in names], dtype=float)
    fig, ax = plt.subplots(figsize=(2.5 + 0.6 * data.shape[1], 1.2 + 0.35 * len(names)))
    im = ax.imshow(data, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(np.nanmax(data)), 1e-6)
                   if np.isfinite(data).any() else 1.0)
    ax.set_xticks(range(data.shape[1]), [str(k) for k in range(data.shape[1])])
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("orientation region")
    ax.set_title("image encoder: equivariance error per layer (quarter turn)", fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    save_figure(fig, path)


def relaxation_plot(path: Path, layers: dict[str, dict]) -> None:
    """Heatmap of w_l(h) minus its mean over h: one row per (layer, bank), one column per group element (angle)."""
    n = len(next(iter(layers.values()))["weights"][0])
    n_rows = sum(len(entry["weights"]) for entry in layers.values())
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n, 1.0 + 0.35 * n_rows))
    im = relaxation_heatmap(ax, {name: entry["weights"] for name, entry in layers.items()},
                            "w_l(h) - mean_h w_l(h): 0 along a row = exactly equivariant",
                            next(iter(layers.values())).get("elements"))
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    save_figure(fig, path)
