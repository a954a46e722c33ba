"""The sweep command's options and run (``studies/regions.py``): train model families on nested demo subsets with
the same step budget and seeds, evaluate each per region on paired episodes, and write a table and a figure.

python studies/regions.py --env push-pillar --out runs/sweep --demos 10 25 50 --seeds 0 1 --models plain equi relaxed
                          [--recipe configs/push.yaml] [--steps 6000] [--episodes_per_region 20] [--dataset DATA.zarr]
                          [--set model.relax_alpha=1e-4 ...] [--report_only]

Each run is trained as ``equidiff-train --config <recipe> --model.model <family>`` would train it, with the
sweep's budget, data subset and seed; its folder OUT/runs/<model>_n<demos>_s<seed>/ gets last.ckpt and eval.json.
Finished runs are skipped, an interrupted one resumes from its checkpoint, so the command can be re-run after a
kill. The dataset is generated with the scripted expert (OUT/data.zarr) unless --dataset is given. Writes
OUT/table.md (success per region, pooled over seeds, 95% Wilson intervals) and OUT/regions.png from every finished
run in OUT. A model <family>_from_<base> (e.g. relaxed_from_equi) is fine-tuned for --finetune_steps from the
<base> run with the same demos and seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from equidiff_relaxed.errors import UserError


@dataclass
class SweepCommand:
    """Options of the sweep (``studies/regions.py``).

    Args:
        env: the env to train and evaluate in (a registered name).
        out: the sweep folder (runs/, table.md, regions.png; data.zarr when generated).
        demos: demo counts (nested subsets of one split), e.g. 10 25 50 (or 10,25,50).
        seeds: run seeds (initialisation and data order), e.g. 0 1.
        models: families (plain, equi, relaxed, ...) or <family>_from_<base>, e.g. plain equi relaxed.
        recipe: the recipe each run is trained from (a path or a shipped recipe's name; {model} in it: one file
            per family).
        dataset: an existing dataset (default: generate OUT/data.zarr with the scripted expert).
        steps: optimizer steps per run (the same for every run).
        finetune_steps: steps of <model>_from_<base> runs (default: --steps).
        regions: K equal orientation regions.
        episodes_per_region: paired evaluation episodes per region and run.
        n_envs: parallel evaluation envs (worker processes).
        set: override a recipe value for every family, SECTION.KEY=VALUE (value parsed as YAML; repeatable by
            listing several), e.g. model.relax_alpha=1e-5; give such a sweep its own --out.
        report_only: rebuild the table and figure from the finished runs without training anything.
        quiet: no progress bars.
    """

    env: str
    out: str
    demos: list[str] = field(default_factory=lambda: ["10", "25", "50"])
    seeds: list[str] = field(default_factory=lambda: ["0", "1"])
    models: list[str] = field(default_factory=lambda: ["plain", "equi", "relaxed", "residual"])
    recipe: str = "configs/push.yaml"
    dataset: str | None = None
    steps: int = 6000
    finetune_steps: int | None = None
    regions: int = 8
    episodes_per_region: int = 20
    n_envs: int = 2
    set: list[str] = field(default_factory=list)
    report_only: bool = False
    quiet: bool = False

    def items(self, name: str) -> list[str]:
        """A list option's values, commas also separating them."""
        from equidiff_relaxed.cli.options import split_items

        return split_items(getattr(self, name)) or []

    def ints(self, name: str) -> list[int]:
        try:
            values = [int(v) for v in self.items(name)]
        except ValueError:
            raise UserError(f"--{name} takes integers, got {' '.join(self.items(name))!r}") from None
        if not values:
            raise UserError(f"--{name} is empty")
        return values

    def overrides(self) -> dict[str, Any]:
        import yaml

        values = {}
        for item in self.set:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UserError(f"--set takes SECTION.KEY=VALUE, got {item!r}")
            values[key.strip()] = yaml.safe_load(value)
        return values


def run(args: SweepCommand) -> tuple[Path, list[dict[str, Any]]]:
    """Train and evaluate what is not done yet (nothing with ``report_only``); returns the sweep folder and every
    finished run's result in it (also those of earlier invocations)."""
    from studies.lib.sweep import finished_runs, parse_model, run_sweep

    models = args.items("models")
    for m in models:
        parse_model(m)  # unknown names fail before anything is generated or trained
    demos, seeds = args.ints("demos"), args.ints("seeds")
    if (min(demos) < 1 or args.steps < 1 or args.episodes_per_region < 1 or args.regions < 1
            or (args.finetune_steps is not None and args.finetune_steps < 1)):
        raise UserError("--demos, --steps, --finetune_steps, --episodes_per_region and --regions must be >= 1")
    overrides = args.overrides()
    out = Path(args.out)
    if args.report_only:
        results = finished_runs(out)
        if not results:
            raise UserError("no finished runs (runs/*/eval.json)", out)
        return out, results
    out.mkdir(parents=True, exist_ok=True)
    dataset = args.dataset
    if dataset is None:
        from equidiff_relaxed.demos.generate import GenerateConfig, generate

        dataset = str(out / "data.zarr")
        if not Path(dataset).exists():
            episodes = math.ceil(max(demos) / 0.9) + 1  # room for the 10% validation split
            generate(GenerateConfig(args.env, episodes=episodes, seed=0), dataset, workers=2,
                     progress=not args.quiet)
    run_sweep(args.env, dataset, out, demos, seeds, models, args.steps, args.regions, args.episodes_per_region,
              args.n_envs, config=args.recipe, progress=not args.quiet, finetune_steps=args.finetune_steps,
              overrides=overrides)
    return out, finished_runs(out)


def write_table_and_figure(args: SweepCommand, out: Path, results: list[dict[str, Any]]) -> str:
    """OUT/table.md and OUT/regions.png from ``results``; returns the table."""
    from equidiff_relaxed.data.atomic import atomic_write_text
    from studies.lib.sweep import markdown_table, plot_sweep

    table = markdown_table(results, args.regions)
    atomic_write_text(out / "table.md", f"{args.env}: success per region (pooled over seeds; 95% Wilson intervals)"
                      f"\n\n{table}\n")
    plot_sweep(results, args.regions, out / "regions.png", title=args.env)
    return table
