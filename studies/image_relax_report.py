"""The relaxed-convolution image study: success vs training steps on the Lift image data, paired comparisons at each
budget and the issue's targets, from the committed runs (studies/queue/robomimic_image_relaxed_conv.txt).

python studies/image_relax_report.py [--results benchmarks/results] [--out benchmarks/results/robomimic_image/relaxed_conv]

Cells (family, steps) -> the sweep folder and model that hold them, under <results>/robomimic_image/:
  plain          2000: lift, 4000: lift_steps/steps4000, 8000: lift_steps/steps8000
  equi           (strided agentview encoder) 2000: lift_stride, 4000 / 8000: lift_steps/steps<N>
  relaxed_conv   (strided) 2000: lift_stride, 4000 / 8000: lift_steps/steps<N>
  equi_camera    equi with agentview declared camera (nothing turns): 4000: lift_agentview_camera
  plain_w64      plain at matched compute (model.image_width 64): 4000: lift_matched/steps4000
  equi_f16       equi with twice the agentview encoder's fields (model.image_fields 16): 4000: lift_wide/steps4000
  equi_deep, relaxed_conv_deep   the deep agentview encoder (model.image_encoder deep, receptive field 42 px
                 against the small one's 18): 4000: lift_deep/steps4000
Writes <out>/table.md (mean success per cell with a bootstrap interval over seeds and episodes; paired differences on
the episodes and seeds both cells have; the targets with verdicts; the relaxed convolutions' equivariance error per
layer), <out>/curve.png (success vs steps) and <out>/layers.png (relaxed_conv's equivariance error per layer and
region, mean over seeds). Cells without finished runs are left out.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
BUDGETS = (2000, 4000, 8000)
CELLS: dict[tuple[str, int], tuple[str, str]] = {
    ("plain", 2000): ("lift", "plain"), ("plain", 4000): ("lift_steps/steps4000", "plain"),
    ("plain", 8000): ("lift_steps/steps8000", "plain"),
    ("equi", 2000): ("lift_stride", "equi"), ("equi", 4000): ("lift_steps/steps4000", "equi"),
    ("equi", 8000): ("lift_steps/steps8000", "equi"),
    ("relaxed_conv", 2000): ("lift_stride", "relaxed_conv"), ("relaxed_conv", 4000): ("lift_steps/steps4000", "relaxed_conv"),
    ("relaxed_conv", 8000): ("lift_steps/steps8000", "relaxed_conv"),
    ("equi_camera", 4000): ("lift_agentview_camera", "equi"),
    ("plain_w64", 4000): ("lift_matched/steps4000", "plain"),
    ("equi_f16", 4000): ("lift_wide/steps4000", "equi"),
    ("equi_deep", 4000): ("lift_deep/steps4000", "equi"),
    ("relaxed_conv_deep", 4000): ("lift_deep/steps4000", "relaxed_conv"),
}
FAMILIES = tuple(dict.fromkeys(family for family, _ in CELLS))  # in CELLS order: rows, legend and colours


def load_cells(root: Path) -> dict[tuple[str, int], dict[int, dict[str, Any]]]:
    """{(family, steps): {seed: run}} of the finished runs at 100 demos (run: the eval.json record)."""
    from studies.lib.sweep import finished_runs

    found: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    for key, (folder, model) in CELLS.items():
        path = root / folder
        if not path.is_dir():
            continue
        runs = {int(r["seed"]): r for r in finished_runs(path) if r["model"] == model and int(r["demos"]) == 100}
        if runs:
            found[key] = runs
    return found


def outcomes(runs: dict[int, dict[str, Any]], seeds: list[int]) -> Any:
    """(seeds, episodes) 0/1 array over the episodes every seed has, in plan order."""
    from studies.lib.sweep_stats import outcome_array

    table = {s: {(int(e["region"]), int(e["index"])): bool(e["success"]) for e in runs[s]["episodes"]} for s in seeds}
    return outcome_array(table, seeds, None)


def paired(a: dict[int, dict[str, Any]], b: dict[int, dict[str, Any]]) -> tuple[Any, list[int]] | None:
    """a − b on the seeds both have (paired per episode), with those seeds; None if they share none."""
    from studies.lib.significance import paired_bootstrap

    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    return paired_bootstrap(outcomes(a, seeds), outcomes(b, seeds)), seeds


def layer_errors(runs: dict[int, dict[str, Any]]) -> dict[str, float]:
    """Mean over seeds and regions of each image convolution's quarter-turn equivariance error."""
    sums: dict[str, list[float]] = {}
    for r in runs.values():
        for name, errors in (r.get("layer_error_per_region") or {}).items():
            sums.setdefault(name, []).extend(e for e in errors if e == e)
    return {name: sum(v) / len(v) for name, v in sums.items() if v}


def layer_errors_per_region(runs: dict[int, dict[str, Any]]) -> dict[str, list[float]]:
    """Each image convolution's quarter-turn equivariance error per region, mean over seeds."""
    rows: dict[str, list[list[float]]] = {}
    for r in runs.values():
        for name, errors in (r.get("layer_error_per_region") or {}).items():
            rows.setdefault(name, []).append(errors)
    return {name: [sum(col) / len(col) for col in zip(*per_seed)] for name, per_seed in rows.items()}


def build_report(found: dict[tuple[str, int], dict[int, dict[str, Any]]]) -> tuple[str, dict[tuple[str, int], Any]]:
    """table.md's text and the mean success interval per cell, from :func:`load_cells`' runs."""
    from studies.lib.significance import bootstrap_interval
    from studies.lib.sweep_stats import format_difference, format_interval

    means = {key: bootstrap_interval(outcomes(runs, sorted(runs))) for key, runs in found.items()}
    lines = ["# Relaxed convolutions on Lift images: success vs training steps", "",
             "100 demos, batch 32, 8 regions × 10 paired episodes per seed; mean success with a 95 % bootstrap "
             "interval over seeds and episodes (seeds in brackets). Made by `python studies/image_relax_report.py`.",
             "", "| family | " + " | ".join(f"{b} steps" for b in BUDGETS) + " |",
             "|---|" + "---|" * len(BUDGETS)]
    for fam in FAMILIES:
        row = [f"{format_interval(means[(fam, b)])} [{len(found[(fam, b)])}]" if (fam, b) in found else "–"
               for b in BUDGETS]
        if any(c != "–" for c in row):
            lines.append(f"| {fam} | " + " | ".join(row) + " |")
    lines += ["", "Paired on the same episodes (seeds both have):", "",
              "| steps | a − b | seeds | difference (95 % interval) | p (bootstrap) | a only / b only |",
              "|---|---|---|---|---|---|"]
    verdicts: list[str] = []
    largest = max((b for b in BUDGETS if ("relaxed_conv", b) in found), default=None)
    for b in BUDGETS:
        pairs = [("relaxed_conv", "plain"), ("relaxed_conv", "equi"), ("equi", "plain"), ("equi_camera", "equi"),
                 ("equi_camera", "plain"), ("plain_w64", "plain"), ("relaxed_conv", "plain_w64"),
                 ("equi_f16", "equi"), ("equi_f16", "plain"), ("equi_deep", "equi"), ("equi_deep", "plain"),
                 ("equi_deep", "plain_w64"), ("relaxed_conv_deep", "equi_deep"), ("relaxed_conv_deep", "plain")]
        for fa, fb in pairs:
            if (fa, b) in found and (fb, b) in found:
                res = paired(found[(fa, b)], found[(fb, b)])
                if res is None:
                    continue
                cmp, seeds = res
                lines.append(f"| {b} | {fa} − {fb} | {','.join(map(str, seeds))} | {format_difference(cmp.diff)} | "
                             f"{'<0.001' if cmp.p_bootstrap < 1e-3 else f'{cmp.p_bootstrap:.3f}'} | "
                             f"{cmp.a_only} / {cmp.b_only} |")
        if ("relaxed_conv", b) in found and ("plain", b) in found and ("equi", b) in found:
            best = max(("plain", "equi"), key=lambda f: means[(f, b)].value)
            res = paired(found[("relaxed_conv", b)], found[(best, b)])
            if res is not None:
                cmp, seeds = res
                ok = cmp.diff.value >= -0.03
                verdicts.append(f"- {b} steps: relaxed_conv ≥ max(plain, equi) − 0.03 (best: {best}): "
                                f"{format_difference(cmp.diff)} over seeds {','.join(map(str, seeds))}: "
                                f"{'holds' if ok else 'fails'}")
        if b == largest and ("plain", b) in found:
            res = paired(found[("relaxed_conv", b)], found[("plain", b)])
            if res is not None:
                cmp, seeds = res
                verdicts.append(f"- {b} steps (the largest with relaxed_conv): relaxed_conv ≥ plain + 0.05: "
                                f"{format_difference(cmp.diff)}: {'holds' if cmp.diff.value >= 0.05 else 'fails'}")
    lines += ["", "Targets (on the point estimate of the paired difference):", "", *(verdicts or ["- none yet"])]
    errs = {b: layer_errors(found[("relaxed_conv", b)]) for b in BUDGETS if ("relaxed_conv", b) in found}
    if any(errs.values()):
        names = sorted({n for e in errs.values() for n in e})
        lines += ["", "relaxed_conv: quarter-turn equivariance error of the agentview encoder's features after each "
                  "convolution, mean over seeds and regions (0 = still exact):", "",
                  "| steps | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for b, e in errs.items():
            lines.append(f"| {b} | " + " | ".join(f"{e[n]:.3f}" if n in e else "–" for n in names) + " |")
    return "\n".join(lines) + "\n", means


def plot(path: Path, means: dict[tuple[str, int], Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from equidiff_relaxed.eval.report import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, fam in enumerate(FAMILIES):
        pts = [(b, means[(fam, b)]) for b in BUDGETS if (fam, b) in means]
        if not pts:
            continue
        xs = [b * (1 + 0.02 * (i - 2)) for b, _ in pts]
        ys = [iv.value for _, iv in pts]
        err = [[iv.value - iv.lo for _, iv in pts], [iv.hi - iv.value for _, iv in pts]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=fam, linestyle="-" if len(pts) > 1 else "none")
    ax.set_xscale("log", base=2)
    ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
    ax.set_xlabel("training steps (batch 32)")
    ax.set_ylabel("success (95 % interval over seeds and episodes)")
    ax.set_ylim(0, 1)
    ax.set_title("Lift images, 100 demos: relaxed convolutions vs plain and equi", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.relpath(RESULTS))
    parser.add_argument("--out", help="default: <results>/robomimic_image/relaxed_conv")
    args = parser.parse_args(argv)
    from equidiff_relaxed.data.atomic import atomic_write_text

    root = Path(args.results) / "robomimic_image"
    out = Path(args.out) if args.out else root / "relaxed_conv"
    found = load_cells(root)
    if not found:
        raise UserError("no finished run of the relaxed-convolution study", root)
    text, means = build_report(found)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.md", text)
    plot(out / "curve.png", means)
    written = [out / "table.md", out / "curve.png"]
    from equidiff_relaxed.eval.report import layer_error_plot

    per_layer = {f"{b} steps: {name}": errors for b in BUDGETS if ("relaxed_conv", b) in found
                 for name, errors in layer_errors_per_region(found[("relaxed_conv", b)]).items()}
    if per_layer:
        layer_error_plot(out / "layers.png", per_layer)
        written.append(out / "layers.png")
    print(text)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
