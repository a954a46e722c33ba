"""studies/regions.py: a tiny sweep end to end, resumable, with its table and figure."""
import json

import pytest
import yaml

from equidiff_relaxed.demos.generate import GenerateConfig, generate
from studies.lib.sweep import markdown_table, pooled, run_sweep
from equidiff_relaxed.policy.checkpoint import load_checkpoint, policy_state
from tests.conftest import REPO, run_script
from tests.test_cli import assert_one_line_error


@pytest.mark.slow
def test_tiny_sweep_runs_resumes_and_reports(tmp_path):
    dataset = tmp_path / "push.zarr"
    generate(GenerateConfig("push", episodes=6, seed=0, max_steps=30), dataset, progress=False)
    out = tmp_path / "sweep"
    args = ["--env", "push", "--dataset", str(dataset), "--demos", "3", "--seeds", "0", "--models", "plain,relaxed",
            "--steps", "2", "--regions", "2", "--episodes-per-region", "1", "--n-envs", "1", "--out", str(out),
            "--quiet"]
    first = run_script("studies/regions.py", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["plain_n3_s0", "relaxed_n3_s0"]
    result = json.loads((out / "runs" / "relaxed_n3_s0" / "eval.json").read_text())
    assert result["model"] == "relaxed" and result["demos"] == 3 and result["steps"] == 2
    assert [r["episodes"] for r in result["regions"]] == [1, 1]
    assert (out / "regions.png").stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "| plain | 3 | 1 |" in table and "| relaxed | 3 | 1 |" in table
    again = run_script("studies/regions.py", *args)
    assert again.returncode == 0 and again.stderr.count("skipped") + again.stdout.count("skipped") == 2
    # cut off during evaluation: the finished checkpoint is evaluated, not retrained
    ckpt = out / "runs" / "plain_n3_s0" / "last.ckpt"
    trained_at = ckpt.stat().st_mtime_ns
    (out / "runs" / "plain_n3_s0" / "eval.json").unlink()
    resumed = run_script("studies/regions.py", *[a if a != "plain,relaxed" else "plain" for a in args])
    assert resumed.returncode == 0 and "plain_n3_s0: trained before" in resumed.stdout + resumed.stderr
    assert "| relaxed | 3 | 1 |" in (out / "table.md").read_text()  # the report covers earlier invocations' runs
    assert ckpt.stat().st_mtime_ns == trained_at and (out / "runs" / "plain_n3_s0" / "eval.json").exists()
    (out / "table.md").unlink()
    report = run_script("studies/regions.py", "--env", "push", "--out", str(out), "--regions", "2", "--report-only")
    assert report.returncode == 0 and "| relaxed | 3 | 1 |" in (out / "table.md").read_text()
    diagnostics = (out / "diagnostics.md").read_text()
    assert "| relaxed | 3 |" in diagnostics
    assert "data break ratio" in diagnostics and (out / "diagnostics.png").stat().st_size > 0
    stats = (out / "stats.md").read_text()  # seed-aware intervals and paired comparisons
    assert "| relaxed | 3 | 1 |" in stats and "Paired comparisons" in stats and (out / "subsets.png").stat().st_size > 0
    failures = (out / "failures.md").read_text()  # failure categories per region, from the runs' eval.json
    failed = sum(r["episodes"] - r["successes"] for r in result["regions"])
    assert "| relaxed | 3 | 1 | 2 |" in failures and "wrist" not in failures and (f"**{failed}" in failures if failed else "**0**" in failures)
    assert "broken regions [1]" not in stats
    (out / "sweep.json").write_text('{"broken_regions": [1], "why": "declared by the task"}')  # the task's own break
    declared = run_script("studies/regions.py", "--env", "push", "--out", str(out), "--regions", "2", "--report-only")
    assert declared.returncode == 0 and "broken regions [1]" in (out / "stats.md").read_text()
    (out / "sweep.json").write_text('{"broken_regions": "six"}')
    bad = run_script("studies/regions.py", "--env", "push", "--out", str(out), "--regions", "2", "--report-only")
    assert_one_line_error(bad, "sweep.json: broken_regions must be a list of region numbers, got 'six'")
    empty = run_script("studies/regions.py", "--env", "push", "--out", str(tmp_path / "none"), "--report-only")
    assert empty.returncode == 2 and "no finished runs" in empty.stderr and "Traceback" not in empty.stderr


@pytest.mark.slow
def test_finetuned_run_starts_from_its_base_run(tmp_path):
    dataset = tmp_path / "push.zarr"
    generate(GenerateConfig("push", episodes=6, seed=0, max_steps=30), dataset, progress=False)
    out = tmp_path / "sweep"
    kwargs = dict(demos=[3], seeds=[0], steps=3, n_regions=2, episodes_per_region=1, n_envs=1,
                  config=str(REPO / "configs/legacy/bench_push_{model}.yaml"), progress=False, log=lambda *_: None)
    results = run_sweep("push", str(dataset), out, models=["relaxed_from_equi", "relaxed"], finetune_steps=1, **kwargs)
    tuned = results[0]
    assert (tuned["model"], tuned["family"], tuned["init_from"]) == ("relaxed_from_equi", "relaxed", "equi")
    assert tuned["steps"] == 1 and tuned["base_steps"] == 3 and "| relaxed_from_equi | 3 | 1 |" in markdown_table(
        results, 2)
    runs = out / "runs"
    assert not (runs / "equi_n3_s0" / "eval.json").exists()  # the base was trained for its weights, not evaluated
    base, tuned_w, scratch = (policy_state(load_checkpoint(runs / n / "last.ckpt"))
                              for n in ("equi_n3_s0", "relaxed_from_equi_n3_s0", "relaxed_n3_s0"))
    shared = [k for k in base if k in tuned_w and base[k].shape == tuned_w[k].shape and base[k].is_floating_point()
              and "normalizer" not in k]
    assert len(shared) > 10  # the U-Net and its conditioning are the same modules in both families
    from_base = max(float((tuned_w[k] - base[k]).abs().max()) for k in shared)
    from_scratch = max(float((scratch[k] - base[k]).abs().max()) for k in shared)
    assert from_base < 1e-2 < from_scratch  # one tiny warm-up step from the equi weights vs another initialisation


def test_pooling_sums_seeds_per_region():
    def run(model, seed, wins):
        return {"model": model, "demos": 10, "seed": seed,
                "regions": [{"region": k, "successes": w, "episodes": 5} for k, w in enumerate(wins)]}

    table = pooled([run("equi", 0, [5, 0]), run("equi", 1, [4, 1])], 2)
    row = table[("equi", 10)]
    assert row["wins"] == [9, 1] and row["n"] == [10, 10] and row["mean"] == 0.5
    assert row["ci"][0][0] < 0.9 < row["ci"][0][1]
    text = markdown_table([run("equi", 0, [5, 0]), run("plain", 0, [1, 1])], 2)
    assert text.index("| plain |") < text.index("| equi |")  # rows ordered like the model families


def test_failure_table_sums_categories_over_seeds_per_region():
    from studies.lib.sweep_failures import failures_markdown

    def run(model, seed, fails):
        return {"model": model, "demos": 10, "seed": seed,
                "regions": [{"region": k, "successes": 5 - sum(f.values()), "episodes": 5, "failures": f}
                            for k, f in enumerate(fails)]}

    runs = [run("equi", 0, [{"stuck_at_pillar": 1}, {}]),
            run("equi", 1, [{"stuck_at_pillar": 2, "pushed_past_goal": 1}, {"wrist_at_limit": 0}]),
            run("plain", 0, [{}, {"wrist_at_limit": 4}])]
    text = failures_markdown(runs, 2, order=lambda m: ["plain", "equi"].index(m))
    assert "| equi | 10 | 2 | 20 | 4: past 1, pillar 3 | 0 | **4: past 1, pillar 3** |" in text
    assert "| plain | 10 | 1 | 10 | 0 | 4: wrist 4 | **4: wrist 4** |" in text
    assert text.index("| plain |") < text.index("| equi |")
    assert "pillar = stuck_at_pillar" in text and "wrist = wrist_at_limit" in text and "moving" not in text


def test_wrist_limit_table_counts_successes_too_and_skips_push_sweeps():
    from studies.lib.sweep_failures import wrist_limit_markdown

    def run(seed, margins):
        return {"model": "equi", "demos": 25, "seed": seed,
                "episodes": [{"region": k, "success": True, "wrist_margin": m} for k, m in margins]}

    text = wrist_limit_markdown([run(0, [(0, 1.0), (1, 0.01)]), run(1, [(0, 0.5), (1, -0.02), (1, 0.2)])], 2)
    assert "| equi | 25 | 0/2 | 2/3 |" in text
    assert wrist_limit_markdown([{"model": "equi", "demos": 1, "seed": 0,
                                  "episodes": [{"region": 0, "success": True, "wrist_margin": None}]}], 1) is None


def test_diagnostics_table_averages_seeds_and_shows_the_data_ratio():
    from studies.lib.sweep_diagnostics import diagnostics_table

    def run(seed, errors, weights):
        return {"model": "relaxed", "demos": 10, "seed": seed,
                "equivariance_error_per_region": [{"rel": e, "abs": e} for e in errors],
                "relaxation": {"encoder.lift": {"weights": weights, "mean_abs_deviation_from_identity": 0.1 * (seed + 1)}},
                "data_symmetry_map": {"d.zarr": [{"region": 0, "ratio": 0.5}, {"region": 1, "ratio": 3.0}]}}

    text = diagnostics_table([run(0, [0.0, 0.2], [[0.5, 0.5]]), run(1, [0.1, 0.4], [[0.4, 0.6]])], 2)
    assert "| relaxed | 10 | 0.050 | 0.300 | 0.1500 | +1.00 |" in text  # broke symmetry where the data do: ρ = 1
    assert "*0.50* | *3.00*" in text


def test_rank_correlation_of_error_and_data_break_only_for_models_that_moved():
    import math

    from studies.lib.sweep_diagnostics import MOVED_ERROR, error_break_correlation

    assert error_break_correlation([0.01, 0.03, 0.02], [0.2, 0.9, 0.5]) == 1.0
    assert error_break_correlation([0.03, 0.01, 0.02], [0.2, 0.9, 0.5]) == -1.0
    assert math.isnan(error_break_correlation([MOVED_ERROR / 2, 0.0, 0.0], [0.2, 0.9, 0.5]))  # exactly equivariant
    assert math.isnan(error_break_correlation([0.01, 0.03, 0.02], None))


def test_a_sweep_run_is_the_yaml_of_train_py_plus_listed_overrides(tmp_path):
    """The trainer section reaches the sweep (here: clipping, EMA decay, accumulation); only run_config's overrides
    change it, and the YAML's checkpoint callbacks give way to the run folder's last.ckpt."""
    from studies.lib.sweep import SAVE_EVERY_N_EPOCHS, RunSpec, family_config, run_config
    from equidiff_relaxed.train.checkpointing import LastCheckpoint
    from equidiff_relaxed.train.ema import EMA
    from equidiff_relaxed.train.run import build_cli

    cfg = yaml.safe_load((REPO / "configs" / "legacy" / "bench_push_equi.yaml").read_text())
    cfg["trainer"].update(gradient_clip_val=0.25, accumulate_grad_batches=2)
    cfg["trainer"]["callbacks"][0]["init_args"]["decay"] = 0.9
    (tmp_path / "x_equi.yaml").write_text(yaml.safe_dump(cfg))
    dataset = tmp_path / "push.zarr"
    generate(GenerateConfig("push", episodes=4, seed=0, max_steps=20), dataset, progress=False)
    run_dir = tmp_path / "runs" / "equi_n3_s2"
    config = run_config(family_config("equi", tmp_path / "x_{model}.yaml"), RunSpec("equi", 3, 2), str(dataset),
                        run_dir, 7)
    cli = build_cli(config)
    trainer, data, model = cli.trainer, cli.datamodule, cli.model
    assert trainer.gradient_clip_val == 0.25 and trainer.accumulate_grad_batches == 2 and trainer.max_steps == 7
    assert [cb.decay for cb in trainer.callbacks if isinstance(cb, EMA)] == [0.9]
    checkpoints = [cb for cb in trainer.callbacks if hasattr(cb, "dirpath")]
    assert len(checkpoints) == 1 and isinstance(checkpoints[0], LastCheckpoint)
    assert checkpoints[0].dirpath == str(run_dir) and checkpoints[0]._every_n_epochs == SAVE_EVERY_N_EPOCHS
    assert trainer.logger is None and trainer.limit_val_batches == 0
    assert (data.n_demos, data.seed, data.shuffle_seed, data.dataset_path) == (3, 0, 2, str(dataset))
    assert model.hparams["seed"] == 2 and model.config.model == "equi"
    # T, To, Ta are declared once (data section) and linked into the policy config
    assert (model.config.horizon, model.config.n_obs_steps, model.config.n_action_steps) == (8, 2, 4)
    assert model.config.down_dims == cfg["model"]["down_dims"]


def test_diagnostics_report_families_whose_relaxation_weights_differ_in_shape(tmp_path):
    """subgroup (weights per coset) and dihedral_relaxed (per element of D8) in one sweep folder: the report
    draws one family's heatmap instead of averaging arrays of different shapes."""
    from studies.lib.sweep_diagnostics import diagnostics_table, plot_diagnostics

    def run(model: str, width: int) -> dict:
        errors = [{"rel": 0.1 * k} for k in range(2)]
        layer = {"weights": [[0.0] * width, [0.0] * width], "mean_abs_deviation_from_identity": 0.0}
        return {"model": model, "demos": 5, "seed": 0, "equivariance_error_per_region": errors,
                "relaxation": {"encoder.0": layer}}

    results = [run("subgroup", 2), run("dihedral_relaxed", 16)]
    plot_diagnostics(results, 2, tmp_path / "d.png", title="t")
    assert (tmp_path / "d.png").stat().st_size > 0
    assert "| subgroup | 5 |" in diagnostics_table(results, 2) and "| dihedral_relaxed | 5 |" in diagnostics_table(results, 2)


def test_overrides_reach_every_run_config(tmp_path):
    from equidiff_relaxed.errors import UserError
    from studies.lib.sweep import RunSpec, run_config, set_dotted

    base = {"model": {"relax_alpha": 1e-3}, "data": {"batch_size": 64}}
    cfg = set_dotted(base, {"model.relax_alpha": 1e-5, "trainer.gradient_clip_val": 0.5})
    assert base["model"]["relax_alpha"] == 1e-3  # the family's config is not modified
    run = run_config(cfg, RunSpec("relaxed", 5, 0), "d.zarr", tmp_path, 10)
    assert run["model"]["relax_alpha"] == 1e-5 and run["trainer"]["gradient_clip_val"] == 0.5
    for bad in ("relax_alpha", "data.batch_size.x"):
        with pytest.raises(UserError, match="override"):
            set_dotted(base, {bad: 1})


def test_every_recipe_builds_every_family_it_is_meant_for():
    """The shipped recipes validate (bad or unknown options raise UserError) with their default family, and the
    sweep recipe with every registered family, selected the way the sweep selects it (model.model)."""
    from studies.lib.sweep import family_config
    from equidiff_relaxed.policy.families import family_names
    from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule

    recipes = sorted((REPO / "configs").glob("*.yaml")) + sorted((REPO / "configs" / "legacy").glob("*.yaml"))
    assert {p.stem for p in recipes} >= {"push", "push_image", "lift", "demo"}
    cases = [(p, None) for p in recipes] + [(REPO / "configs" / "push.yaml", f) for f in family_names()]
    for path, family in cases:
        cfg = family_config(family or "relaxed", path)
        linked = {k: cfg["data"][k] for k in ("horizon", "n_obs_steps", "n_action_steps")}
        model = {**cfg["model"], **({"model": family} if family else {})}
        module = DiffusionPolicyModule(**model, **linked)
        assert module.config.model == model["model"], path
