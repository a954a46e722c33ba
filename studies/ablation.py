"""Ablation of the fixes of the "policies that solve the push tasks" work: each fix switched off in turn.

python studies/ablation.py --env push-pillar --model relaxed --demos 100 --seeds 0,1 --steps 3000 \
    --config configs/push.yaml --out benchmarks/results/ablation/push-pillar [--variants full,no_dart]

Variants (``full`` has every fix; each other one undoes exactly one):
  full               DART data + memoryless expert, pad_after full, trailing DDIM, wide/deep encoder, per-seed
                     data order, actions relative to the pusher
  no_dart            (1) data without perturbed execution; the expert's 5 mm action noise in the labels (the old data)
  expert_plan_once   (2) the expert plans its path once per episode (hidden state) instead of every step
  dp_padding         (3) pad_after = Ta - 1 (diffusion_policy): the last T - To - Ta + 1 states are never "now"
  leading_ddim       (4) diffusers' "leading" DDIM spacing (8 steps start at t = 84 of 100)
  narrow_encoder     (5) equivariant encoder of 8 fields per group copy, one hidden layer (the old size)
  one_layer_encoder  (5, half) 32 fields per copy but one hidden layer (cheaper: see BENCHMARKS.md#speed)
  half_width_encoder (5, half) two hidden layers but 16 fields per copy (cheaper too)
  fixed_data_order   (6) every seed sees the data in the same order (only the initialisation changes)
  absolute_actions   (7) absolute target positions instead of displacements from the pusher

Every run: the same optimizer steps, demos and split (split seed 0), evaluated on the same paired episodes per
region. Datasets are generated into <out>/data/ (git-ignored) when missing. A run is done when
<out>/runs/<variant>_s<seed>/eval.json exists (commit these small files), so the script resumes where it stopped;
<out>/table.md and ablation.png are rebuilt from every finished run (--report-only: without training).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from studies.lib.arguments import int_list
from equidiff_relaxed.errors import UserError, run_cli

# variant -> (generation overrides, data overrides, model overrides)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "full": ({}, {}, {}),
    "no_dart": ({"dart_noise": 0.0, "burst_prob": 0.0, "noise_std": 0.005}, {}, {}),
    "expert_plan_once": ({"expert_plan_once": True}, {}, {}),
    "dp_padding": ({}, {"pad_after": "diffusion_policy"}, {}),
    "leading_ddim": ({}, {}, {"ddim_spacing": "leading"}),
    "narrow_encoder": ({}, {}, {"encoder_fields": 8, "encoder_layers": 1}),
    "one_layer_encoder": ({}, {}, {"encoder_layers": 1}),
    "half_width_encoder": ({}, {}, {"encoder_fields": 16}),
    "fixed_data_order": ({}, {"shuffle_seed": 0}, {}),
    "absolute_actions": ({}, {}, {"relative_to": None}),
}


def dataset_for(out: Path, env: str, gen: dict[str, Any], episodes: int) -> str:
    """<out>/data/<env>_<overrides>.zarr, generated (seed 0) when missing; variants with the same data share it."""
    from equidiff_relaxed.demos.generate import GenerateConfig, generate

    tag = "_".join(f"{k}-{v}" for k, v in sorted(gen.items())) or "default"
    path = out / "data" / f"{env}_{tag}.zarr"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        own = {k: v for k, v in gen.items() if k == "noise_std"}  # the rest are the env's generation options
        options = {k: v for k, v in gen.items() if k != "noise_std"}
        generate(GenerateConfig(env, episodes=episodes, seed=0, options=options, **own), path, workers=2,
                 progress=False)
    return str(path)


def load_config(path: str) -> dict[str, Any]:
    """The whole train.py YAML (the sweep trains from it, trainer section included)."""
    p = Path(path)
    if not p.exists():
        raise UserError("config not found", p)
    cfg = yaml.safe_load(p.read_text()) or {}
    return {**cfg, "model": dict(cfg.get("model") or {}), "data": dict(cfg.get("data") or {})}


def run_variant(variant: str, seed: int, args: argparse.Namespace, out: Path, base: dict[str, Any]) -> dict[str, Any]:
    from equidiff_relaxed.eval.evaluate import evaluate
    from studies.lib.sweep import RunSpec, finished_training, train_run

    gen, data, model = VARIANTS[variant]
    episodes = math.ceil(args.demos / 0.9) + 1
    dataset = dataset_for(out, args.env, gen, episodes)
    cfg = {**base, "model": {**base["model"], **model}, "data": {**base["data"], **data}}
    run_dir = out / "runs" / f"{variant}_s{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = RunSpec(args.model, args.demos, seed)
    t0 = time.perf_counter()
    ckpt = finished_training(run_dir, spec, args.steps) or train_run(spec, dataset, run_dir, args.steps, cfg,
                                                                    progress=not args.quiet)
    train_s = time.perf_counter() - t0
    payload = evaluate([str(ckpt)], run_dir / "eval", args.env, args.regions, args.episodes_per_region, args.n_envs,
                       seed=0, progress=not args.quiet)
    return {**payload["checkpoints"][0].to_dict(), "variant": variant, "seed": seed, "model": args.model,
            "demos": args.demos, "steps": args.steps, "env": args.env, "dataset": dataset, "config": cfg,
            "train_seconds": train_s}


def report(out: Path, n_regions: int) -> str:
    """Markdown table: mean and per-region success per variant, mean over seeds +- seed spread, cost vs full."""
    import numpy as np

    from equidiff_relaxed.data.atomic import atomic_write_text
    from equidiff_relaxed.eval.report import save_figure

    rows: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(out.glob("runs/*/eval.json")):
        r = json.loads(p.read_text())
        rows.setdefault(r["variant"], []).append(r)
    if not rows:
        raise UserError("no finished runs (runs/*/eval.json)", out)
    full = np.mean([r["mean_success"] for r in rows.get("full", [])]) if "full" in rows else math.nan
    head = ("| variant | seeds | mean success (per seed) | cost vs full | "
            + " | ".join(f"r{k}" for k in range(n_regions)) + " |")
    lines = [head, "|" + "---|" * (n_regions + 4)]
    names = [v for v in VARIANTS if v in rows]
    for v in names:
        means = [r["mean_success"] for r in rows[v]]
        per_region = np.mean([[reg["success_rate"] for reg in r["regions"]] for r in rows[v]], axis=0)
        cost = full - float(np.mean(means)) if v != "full" else 0.0
        lines.append(f"| {v} | {len(means)} | **{np.mean(means):.2f}** ({', '.join(f'{m:.2f}' for m in means)}) | "
                     f"{cost:+.2f} | " + " | ".join(f"{x:.2f}" for x in per_region) + " |")
    table = "\n".join(lines)
    atomic_write_text(out / "table.md", table + "\n")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for i, v in enumerate(names):
        means = [r["mean_success"] for r in rows[v]]
        ax.bar(i, float(np.mean(means)), color="C0" if v == "full" else "C1", alpha=0.7)
        ax.plot([i] * len(means), means, "k.", ms=8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("mean success (dots: seeds)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"ablation: each fix switched off ({out.name})")
    fig.tight_layout()  # room for the rotated variant names
    save_figure(fig, out / "ablation.png")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="push-pillar")
    parser.add_argument("--model", default="relaxed")
    parser.add_argument("--config", help="YAML of the full configuration (model and data sections; not needed with "
                                         "--report-only)")
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--seeds", type=int_list, default=[0, 1])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--episodes-per-region", type=int, default=25)
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--out", required=True)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UserError(f"unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
    if min(args.demos, args.steps, args.episodes_per_region, args.regions) < 1:
        raise UserError("--demos, --steps, --episodes-per-region and --regions must be >= 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        if args.config is None:
            raise UserError("--config is required to train (only --report-only does without)")
        base = load_config(args.config)
        for seed in args.seeds:
            for v in variants:
                done = out / "runs" / f"{v}_s{seed}" / "eval.json"
                if done.exists():
                    print(f"{v} seed {seed}: done before, skipped")
                    continue
                result = run_variant(v, seed, args, out, base)
                tmp = done.with_name(f".eval.json.tmp-{os.getpid()}")
                tmp.write_text(json.dumps(result, indent=1))
                os.replace(tmp, done)
                print(f"{v} seed {seed}: mean success {result['mean_success']:.2f} "
                      f"(trained {result['train_seconds']:.0f} s)", flush=True)
    print(report(out, args.regions))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
