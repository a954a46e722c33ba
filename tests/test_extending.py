"""Extending the toolkit as docs/extending.md says: one plug-in module (tests/plugins/toy_task.py) registers a new
env (with its expert and failure analysis), a new model family with a mechanism of its own (a learned correction per
orientation region, with its own options and penalty) and a new metric; nothing else is edited, and the commands use
them: generate -> train 5 steps -> evaluate 1 episode per region (in spawned env workers too)."""
import json
import sys

import pytest
import yaml

from equidiff_relaxed import plugins
from tests.conftest import run_script

PLUGIN = "tests.plugins.toy_task"


@pytest.fixture
def toy_plugin(monkeypatch):
    monkeypatch.setenv(plugins.ENV_VARIABLE, PLUGIN)
    yield
    from equidiff_relaxed.envs.registry import unregister_env
    from equidiff_relaxed.eval.metrics import unregister_metric
    from equidiff_relaxed.policy.families import unregister

    unregister_env("toy-reach")
    unregister("region_bias")
    unregister_metric("path_length")
    plugins._loaded.discard(PLUGIN)
    sys.modules.pop(PLUGIN, None)


@pytest.mark.slow
def test_a_plugin_env_family_and_metric_run_through_generate_train_and_eval(toy_plugin, tmp_path):
    data, run, out = tmp_path / "toy.zarr", tmp_path / "run", tmp_path / "eval"
    proc = run_script("datasets/generate.py", "--env", "toy-reach", "--episodes", "8", "--out", str(data), "--quiet")
    assert proc.returncode == 0, proc.stderr
    recipe = {
        "seed_everything": 0,
        "trainer": {"max_steps": 5, "max_epochs": -1, "enable_progress_bar": False, "enable_model_summary": False,
                    "callbacks": [{"class_path": "equidiff_relaxed.train.checkpointing.LastCheckpoint"}]},
        "model": {"model": "region_bias", "denoiser": "mlp", "denoiser_width": 32, "denoiser_depth": 1,
                  "encoder_fields": 4, "lift_fields": 4, "ddim_steps": 2, "bias_regions": 3},
        "data": {"dataset_path": str(data), "horizon": 4, "n_obs_steps": 2, "n_action_steps": 2, "batch_size": 8}}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(recipe))
    proc = run_script("train.py", "--config", str(tmp_path / "toy.yaml"), "--out", str(run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "checkpoints" / "policy" / "config.json").is_file()
    import torch

    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    table = state["state_dict"]["policy.denoiser.table"]
    assert table.shape == (3, 4, 2) and table.abs().sum() > 0  # its option was read, its parameters trained
    assert state["hyper_parameters"]["bias_regions"] == 3 and "relax_alpha" not in state["hyper_parameters"]
    proc = run_script("eval.py", "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--regions", "4",
                      "--episodes_per_region", "1", "--n_envs", "2", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "results.json").read_text())["checkpoints"][0]
    assert result["env"] == "toy-reach" and result["model"] == "region_bias"
    assert [r["episodes"] for r in result["regions"]] == [1, 1, 1, 1]
    assert all("stopped_short" in r["failures"] for r in result["regions"])  # the env's own failure category
    assert all(e["path_length"] is not None and e["path_length"] > 0 for e in result["episodes"])  # its metric
    assert all(r["metrics"]["path_length"] is not None for r in result["regions"])
    assert "short" in proc.stdout  # its column in the failure table


def test_a_broken_plugin_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(plugins.ENV_VARIABLE, "tests.plugins.no_such_module")
    try:
        proc = run_script("datasets/generate.py", "--env", "toy-reach", "--episodes", "1", "--out", "x.zarr")
    finally:
        plugins._loaded.discard("tests.plugins.no_such_module")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 1 and "plug-in 'tests.plugins.no_such_module'" in lines[0], proc.stderr
