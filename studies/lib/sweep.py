"""Sample-efficiency sweep (``studies/regions.py``): train model families on nested demo subsets with the same budget and
seeds, evaluate each per orientation region on paired episodes, and pool the results into a table and a figure.
The study statistics over such sweeps (intervals over seeds, paired tests, diagnostics tables) are benchmark
tooling, in ``studies/lib``.

One run = (model, demos, seed). Its folder ``<out>/runs/<model>_n<demos>_s<seed>/`` holds ``last.ckpt`` (ignored by
git) and ``eval.json``: the run's :class:`~equidiff_relaxed.eval.result.EvalResult` (per-episode results, diagnostics)
plus the run's fields (model label, family, demos, seed, steps, init_from) and the data's symmetry-break map. A run whose ``eval.json`` exists is skipped, so a sweep can be
resumed, and committing the ``eval.json`` files is enough to rebuild the tables and figures. The sweep survives a
SIGKILL at any point: ``last.ckpt`` is written atomically every 10 epochs and at the end, a run killed during training
continues from it (exactly: the checkpoints are end-of-epoch), a run cut off during its evaluation keeps its finished
``last.ckpt`` and is only evaluated again, and ``eval.json`` is renamed into place only once complete.

Budget: every run takes the same number of optimizer steps (``steps``), whatever the demo count. Each run is trained
exactly as ``equidiff-train --config <recipe> --model.model <model>`` would train it (model, data and trainer
sections: EMA, gradient clipping, ...), with the few overrides listed in :func:`run_config`; a recipe path holding
``{model}`` names one file per family (the legacy recipes).
The dataset split is the same for every run (split seed 0): validation episodes are fixed and the training subsets
are nested (10 demos are the first 10 of the 25); ``seed`` changes the network initialisation and data order.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval.result import EvalResult
from equidiff_relaxed.eval.stats import wilson_interval
from equidiff_relaxed.policy.families import all_option_fields, family_names, get_family
from equidiff_relaxed.train.run import LINKED_TO_MODEL, is_checkpoint_entry


@dataclass(frozen=True)
class RunSpec:
    """One run; with ``init_from`` it is fine-tuned from the finished run (init_from, demos, seed) of this sweep."""
    model: str
    demos: int
    seed: int
    init_from: str | None = None

    @property
    def label(self) -> str:
        """Model label in tables: the family, or ``<family>_from_<base>`` for a fine-tuned run."""
        return self.model if self.init_from is None else f"{self.model}_from_{self.init_from}"

    @property
    def name(self) -> str:
        return f"{self.label}_n{self.demos}_s{self.seed}"

    def base(self) -> RunSpec:
        """The run this one is fine-tuned from."""
        assert self.init_from is not None
        return RunSpec(self.init_from, self.demos, self.seed)


def parse_model(label: str) -> tuple[str, str | None]:
    """``"relaxed"`` -> ("relaxed", None); ``"relaxed_from_equi"`` -> ("relaxed", "equi"); UserError if unknown."""
    family, sep, base = label.partition("_from_")
    known = family_names()
    for name in (family, base) if sep else (family,):
        if name not in known:
            raise UserError(f"unknown model {label!r} (known: {', '.join(known)}, or <model>_from_<model>)")
    return family, (base if sep else None)


def model_order(label: str) -> tuple[int, int]:
    """Sort key of a model label: families in registry order, a fine-tuned ``X_from_Y`` right after the families."""
    family, base = parse_model(label)
    names = family_names()
    if base is None:
        return (names.index(family), -1)
    return (len(names) + names.index(base), names.index(family))


EXTRA_COLORS = ("navy", "magenta", "teal", "darkgoldenrod", "maroon", "lime", "slategrey", "coral")  # after C0-C9


def model_color(label: str) -> str:
    """Matplotlib colour of a model label: C0, C1, ... C9 for the families in registry order, then
    :data:`EXTRA_COLORS` (matplotlib's C10 would repeat C0), the fine-tuned runs after the families."""
    family, base = parse_model(label)
    names = family_names()
    index = names.index(family) if base is None else len(names) + names.index(family)
    return f"C{index}" if index < 10 else EXTRA_COLORS[(index - 10) % len(EXTRA_COLORS)]


DEFAULT_RECIPE = "configs/push.yaml"


def family_config(model: str, config: str | os.PathLike = DEFAULT_RECIPE) -> dict[str, Any]:
    """The whole train YAML of recipe ``config`` (a path or a shipped recipe's name; ``{model}`` in it is replaced by
    the family) as plain values (no code): the sweep trains each run of ``model`` from it, trainer section
    included, with only :func:`run_config`'s overrides (which set ``model.model``)."""
    from equidiff_relaxed.cli.train import recipe_path

    path = Path(recipe_path(str(config).replace("{model}", model)))
    if not path.exists():
        raise UserError(f"no recipe for model {model!r} (expected {path})")
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model") or {}, dict):
        raise UserError("not a train config (expected model:, data:, trainer: sections)", path)
    return cfg


def check_overrides(overrides: dict[str, Any], families: set[str]) -> None:
    """A ``model.<option>`` override that is a family option must be taken by one of the sweep's ``families`` (it
    then applies to those that take it); UserError otherwise."""
    owned = all_option_fields()
    for dotted in overrides:
        section, _, key = dotted.partition(".")
        if section == "model" and key in owned and not any(key in get_family(f).option_names() for f in families):
            raise UserError(f"override {dotted!r}: none of the sweep's families ({', '.join(sorted(families))}) "
                            f"takes {key}")


def set_dotted(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with each ``"section.key": value`` of ``overrides`` set (sections are created); a
    UserError for a key without a section or one that descends into a non-mapping."""
    cfg = copy.deepcopy(config)
    for dotted, value in overrides.items():
        *path, last = dotted.split(".")
        if not path or not last:
            raise UserError(f"override {dotted!r} must be section.key (e.g. model.relax_alpha)")
        node = cfg
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override {dotted!r}: {part!r} is not a section")
        node[last] = value
    return cfg


SAVE_EVERY_N_EPOCHS = 10  # a sweep run's last.ckpt: every 10 epochs (~200 steps at 100 demos) and at the end
# What a sweep run changes in the YAML's trainer section: the budget is a step count; no logger, no validation
# (runs are judged by rollouts), and its own checkpoint (run_dir/last.ckpt) instead of the YAML's checkpoint callbacks.
SWEEP_TRAINER = {"max_epochs": -1, "logger": False, "enable_model_summary": False, "limit_val_batches": 0,
                 "num_sanity_val_steps": 0}
LAST_CHECKPOINT = "equidiff_relaxed.train.checkpointing.LastCheckpoint"


def run_config(config: dict[str, Any], spec: RunSpec, dataset: str, run_dir: Path, steps: int,
               progress: bool = False) -> dict[str, Any]:
    """train.py's config for one sweep run: ``config`` (a family's YAML) with these overrides and nothing else:
    data: ``dataset_path``, ``n_demos``, split seed 0 (fixed validation episodes, nested training subsets), data
    order ``shuffle_seed`` = the run seed unless the YAML sets one; model: ``model`` = the run's family;
    ``seed_everything`` = the run seed (initialisation; linked to the model's noise seed); trainer: ``max_steps``,
    ``default_root_dir`` = ``run_dir``, :data:`SWEEP_TRAINER`, and the YAML's checkpoint callbacks replaced by
    ``LastCheckpoint(run_dir)`` every :data:`SAVE_EVERY_N_EPOCHS` epochs. T, To, Ta come from the data section."""
    cfg = copy.deepcopy(config)
    data = {**(cfg.get("data") or {}), "dataset_path": str(dataset), "n_demos": spec.demos, "seed": 0}
    if data.get("shuffle_seed") is None:
        data["shuffle_seed"] = spec.seed
    model = {k: v for k, v in (cfg.get("model") or {}).items() if k not in LINKED_TO_MODEL + ("seed",)}
    # another family's options (a --set for some of the sweep's families) do not apply to this run's family
    foreign = set(all_option_fields()) - set(get_family(spec.model).option_names())
    model = {k: v for k, v in model.items() if k not in foreign}
    trainer = {**(cfg.get("trainer") or {}), **SWEEP_TRAINER, "max_steps": steps, "default_root_dir": str(run_dir),
               "enable_progress_bar": progress}
    callbacks = trainer.get("callbacks") or []
    callbacks = [callbacks] if isinstance(callbacks, dict) else list(callbacks)
    trainer["callbacks"] = [cb for cb in callbacks if not is_checkpoint_entry(cb)] + [
        {"class_path": LAST_CHECKPOINT, "init_args": {"dirpath": str(run_dir), "every_n_epochs": SAVE_EVERY_N_EPOCHS}}]
    return {**cfg, "seed_everything": spec.seed, "trainer": trainer, "data": data,
            "model": {**model, "model": spec.model}}


def train_run(spec: RunSpec, dataset: str, run_dir: Path, steps: int, config: dict[str, Any],
              progress: bool = False, init_from: Path | None = None, resume_from: Path | None = None) -> Path:
    """Train one run for ``steps`` optimizer steps the way train.py does (:func:`run_config` of the family's YAML
    ``config``), from scratch or from the (EMA) weights of checkpoint ``init_from`` (equivariant weights transfer
    exactly into relaxed banks), or continue it from its own checkpoint ``resume_from`` (exact from an end-of-epoch
    checkpoint); returns its last checkpoint, written atomically."""
    from equidiff_relaxed.train.run import build_cli, fit

    cfg = run_config(config, spec, dataset, run_dir, steps, progress)
    cfg["ckpt_path"] = str(resume_from) if resume_from is not None else None
    cfg["init_from"] = str(init_from) if init_from is not None and resume_from is None else None
    cfg["overwrite"] = True  # the sweep owns its run folders: a fresh run replaces what an unusable one left
    fit(build_cli(cfg), log=print if progress else (lambda *_: None))
    return run_dir / "last.ckpt"


def training_state(run_dir: Path, spec: RunSpec, steps: int) -> tuple[Path | None, Path | None]:
    """(finished, interrupted): ``run_dir/last.ckpt`` as the first if it is this run's (same model and seed)
    training finished at ``steps``, as the second if it stopped before ``steps`` (a killed sweep: resume it).
    The checkpoint is read once; an unreadable or foreign one gives (None, None) and the run is trained again."""
    from equidiff_relaxed.train.checkpointing import load_training_checkpoint

    ckpt = run_dir / "last.ckpt"
    state = load_training_checkpoint(ckpt)[0] if ckpt.exists() else None
    hparams = (state or {}).get("hyper_parameters") or {}
    if state is None or hparams.get("model") != spec.model or hparams.get("seed") != spec.seed:
        return None, None
    step = int(state["global_step"])
    return (ckpt if step == steps else None), (ckpt if 0 < step < steps else None)


def finished_training(run_dir: Path, spec: RunSpec, steps: int) -> Path | None:
    """``run_dir/last.ckpt`` if it is this run's training finished at ``steps`` (same model and seed), else None.
    Lets a sweep cut off during evaluation resume without retraining (see :func:`training_state`)."""
    return training_state(run_dir, spec, steps)[0]


def run_sweep(env: str, dataset: str, out: str | os.PathLike, demos: list[int], seeds: list[int], models: list[str],
              steps: int, n_regions: int = 8, episodes_per_region: int = 20, n_envs: int = 2,
              config: str | os.PathLike = DEFAULT_RECIPE, progress: bool = True,
              log: Any = print, finetune_steps: int | None = None,
              overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Train and evaluate every (model, demos, seed) not done yet; returns every run's result (done before or now).

    ``overrides``: dotted keys set in every family's YAML before the run's own overrides, e.g.
    ``{"model.relax_alpha": 1e-5}`` (see :func:`set_dotted`); a run records them in its eval.json, with its
    ``wall_seconds``: ``train`` (this process's training time; None when it was trained before, partial when
    ``resumed``) and ``eval``.

    A model ``<family>_from_<base>`` (e.g. ``relaxed_from_equi``) is fine-tuned for ``finetune_steps`` (default
    ``steps``) from the ``steps``-step run of ``base`` with the same demos and seed; compare it with
    ``<base>_from_<base>`` (the base trained on for as many steps) for an equal total budget."""
    from equidiff_relaxed.eval.evaluate import evaluate

    parsed = [parse_model(m) for m in models]
    families = {m for pair in parsed for m in pair if m is not None}
    check_overrides(overrides or {}, families)
    configs = {m: set_dotted(family_config(m, config), overrides or {}) for m in sorted(families)}
    finetune_steps = steps if finetune_steps is None else finetune_steps
    results = []
    specs = [RunSpec(m, n, s, base) for n in demos for s in seeds for m, base in parsed]
    for i, spec in enumerate(specs):
        run_dir = Path(out) / "runs" / spec.name
        done = run_dir / "eval.json"
        if done.exists():
            results.append(json.loads(done.read_text()))
            log(f"[{i + 1}/{len(specs)}] {spec.name}: done before, skipped")
            continue
        run_steps = steps if spec.init_from is None else finetune_steps
        init = None
        if spec.init_from is not None:  # the base run's checkpoint; trained now if this sweep has not kept it
            base = spec.base()
            base_dir = Path(out) / "runs" / base.name
            init, base_resume = training_state(base_dir, base, steps)
            if init is None:
                log(f"[{i + 1}/{len(specs)}] {spec.name}: training its base {base.name} first")
                base_dir.mkdir(parents=True, exist_ok=True)
                init = train_run(base, dataset, base_dir, steps, configs[base.model], progress,
                                 resume_from=base_resume)
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt, resume = training_state(run_dir, spec, run_steps)
        started, train_seconds = time.perf_counter(), None
        if ckpt is None:
            if resume is not None:
                log(f"[{i + 1}/{len(specs)}] {spec.name}: resuming its interrupted training from {resume}")
            ckpt = train_run(spec, dataset, run_dir, run_steps, configs[spec.model], progress, init_from=init,
                             resume_from=resume)
            train_seconds = time.perf_counter() - started
        else:
            log(f"[{i + 1}/{len(specs)}] {spec.name}: trained before ({run_steps} steps), evaluating it")
        started = time.perf_counter()
        payload = evaluate([str(ckpt)], run_dir / "eval", env, n_regions, episodes_per_region, n_envs, seed=0,
                           progress=progress)
        wall = {"train": train_seconds, "eval": time.perf_counter() - started, "resumed": resume is not None}
        budget = {"steps": run_steps} if spec.init_from is None else {"steps": run_steps, "base_steps": steps}
        result = {**payload["checkpoints"][0].to_dict(), **asdict(spec), "model": spec.label, "family": spec.model,
                  **budget, "overrides": dict(overrides or {}), "data_symmetry_map": payload["data_symmetry_map"],
                  "wall_seconds": wall}
        tmp = done.with_name(".eval.json.tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, done)
        results.append(result)
        log(f"[{i + 1}/{len(specs)}] {spec.name}: mean success {result['mean_success']:.2f}")
    return results


def read_run(path: str | os.PathLike) -> dict[str, Any]:
    """One finished run's eval.json; UserError naming the file if it is not a JSON object."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"unreadable eval.json: {err}", path) from None
    if not isinstance(result, dict):
        raise UserError("eval.json does not hold a JSON object", path)
    return result


def finished_runs(out: str | os.PathLike) -> list[dict[str, Any]]:
    """Results of every finished run under ``<out>/runs`` (their eval.json), in name order."""
    return [read_run(p) for p in sorted(Path(out).glob("runs/*/eval.json"))]


def pooled(results: list[dict[str, Any]], n_regions: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (model, demos): successes and episodes per region summed over seeds, with Wilson intervals."""
    table: dict[tuple[str, int], dict[str, Any]] = {}
    for r in results:
        key = (r["model"], r["demos"])
        row = table.setdefault(key, {"wins": [0] * n_regions, "n": [0] * n_regions, "seeds": []})
        row["seeds"].append(r["seed"])
        for reg in EvalResult.from_dict(r).regions:
            row["wins"][reg.region] += reg.successes
            row["n"][reg.region] += reg.episodes
    for row in table.values():
        row["rate"] = [w / n if n else math.nan for w, n in zip(row["wins"], row["n"])]
        row["ci"] = [wilson_interval(w, n) for w, n in zip(row["wins"], row["n"])]
        total_w, total_n = sum(row["wins"]), sum(row["n"])
        row["mean"] = total_w / total_n if total_n else math.nan
        row["mean_ci"] = wilson_interval(total_w, total_n)
    return table


def markdown_table(results: list[dict[str, Any]], n_regions: int) -> str:
    """Success per region and mean (pooled over seeds) with 95% Wilson intervals, one row per model and demo count."""
    table = pooled(results, n_regions)
    head = "| model | demos | seeds | " + " | ".join(f"region {k}" for k in range(n_regions)) + " | mean |"
    lines = [head, "|" + "---|" * (n_regions + 4)]
    for (model, demos), row in sorted(table.items(), key=lambda kv: (kv[0][1], model_order(kv[0][0]))):
        cells = [f"{r:.2f} ({lo:.2f}–{hi:.2f})" for r, (lo, hi) in zip(row["rate"], row["ci"])]
        lo, hi = row["mean_ci"]
        lines.append(f"| {model} | {demos} | {len(row['seeds'])} | " + " | ".join(cells)
                     + f" | **{row['mean']:.2f}** ({lo:.2f}–{hi:.2f}) |")
    return "\n".join(lines)


def plot_sweep(results: list[dict[str, Any]], n_regions: int, path: str | os.PathLike, title: str = "") -> None:
    """Left: mean success vs demos per model (95% intervals); right: per-region polar bars at the fewest demos."""
    from equidiff_relaxed.eval.report import save_figure  # selects the Agg backend first

    import matplotlib.pyplot as plt
    import numpy as np

    table = pooled(results, n_regions)
    models = sorted({m for m, _ in table}, key=model_order)
    fig = plt.figure(figsize=(11, 4.8))
    ax = fig.add_subplot(1, 2, 1)
    for m in models:
        pts = sorted((d, row) for (mm, d), row in table.items() if mm == m)
        xs = [d for d, _ in pts]
        ys = np.array([row["mean"] for _, row in pts])
        lo = np.array([row["mean_ci"][0] for _, row in pts])
        hi = np.array([row["mean_ci"][1] for _, row in pts])
        ax.errorbar(xs, ys, yerr=[np.clip(ys - lo, 0, None), np.clip(hi - ys, 0, None)], marker="o", capsize=3,
                    color=model_color(m), label=m)
    ax.set_xlabel("demonstrations")
    ax.set_ylabel("mean success (pooled over seeds)")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title(title)
    fewest = min(d for _, d in table)
    pax = fig.add_subplot(1, 2, 2, projection="polar")
    width = 2 * math.pi / n_regions
    for j, m in enumerate(models):
        row = table.get((m, fewest))
        if row is None:
            continue
        centres = np.arange(n_regions) * width + width * (j + 0.5) / len(models)
        pax.bar(centres, row["rate"], width=width / len(models) * 0.9, alpha=0.7, color=model_color(m), label=m)
    pax.set_ylim(0, 1)
    pax.set_title(f"success per region, {fewest} demos")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
