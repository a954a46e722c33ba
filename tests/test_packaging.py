"""Packaging: console scripts, declared dependencies, escnn's install line, recipes shipped with the package, and
repository scripts that run this checkout's package (not an installed one)."""
import ast
import json
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import pytest

from tests.conftest import REPO, run_script, run_subprocess

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"yaml": "pyyaml", "docstring_parser": "docstring-parser", "lightning": "lightning"}
NOT_DEPENDENCIES = {"escnn": "installed with --no-deps (docs/installation.md)", "robosuite": "the [robosuite] extra"}


def _dist(requirement: str) -> str:
    name = requirement.split(";")[0]
    for mark in "<>=![ ":
        name = name.split(mark)[0]
    return name.strip().lower().replace("_", "-")


def test_every_direct_import_of_the_package_is_a_declared_dependency():
    declared = {_dist(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = {_dist(r) for group in PYPROJECT["project"]["optional-dependencies"].values() for r in group}
    imported: dict[str, str] = {}
    for path in sorted((REPO / "equidiff_relaxed").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "equidiff_relaxed":
                    imported.setdefault(top, str(path.relative_to(REPO)))
    assert {"torch", "escnn", "safetensors", "jsonargparse"} <= set(imported)  # the scan sees the package
    for top, where in imported.items():
        dist = DISTRIBUTIONS.get(top, top).replace("_", "-")
        if top in NOT_DEPENDENCIES:
            assert top != "robosuite" or dist in extras
            continue
        assert dist in declared, f"{where} imports {top!r}, which pyproject.toml does not declare"


def test_console_scripts_name_each_command_main():
    scripts = PYPROJECT["project"]["scripts"]
    assert {"equidiff-train", "equidiff-eval", "equidiff-generate", "equidiff-convert", "equidiff-describe"} <= set(
        scripts)
    for name, target in scripts.items():
        module_name, _, attr = target.partition(":")
        module = import_module(module_name)
        assert callable(getattr(module, attr)) and callable(module.main), name


def test_an_installed_console_script_runs(tmp_path):
    """The entry point pip wrote into the environment (make installs the package editable)."""
    import subprocess

    script = Path(sys.executable).parent / "equidiff-synthetic"
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    out = tmp_path / "s.zarr"
    proc = subprocess.run([str(script), "--out", str(out), "--episodes", "2"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and out.is_dir(), proc.stderr[-2000:]


def test_shipped_recipes_are_package_data_and_found_by_name():
    from equidiff_relaxed.cli.train import RECIPES, recipe_path

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["equidiff_relaxed"]
    assert "configs/*.yaml" in patterns and RECIPES == REPO / "equidiff_relaxed" / "configs"
    assert (REPO / "configs").resolve() == RECIPES  # the checkout's configs/ is the package's recipes
    assert recipe_path("push") == str(RECIPES / "push.yaml")
    assert recipe_path("legacy/bench_push_equi") == str(RECIPES / "legacy" / "bench_push_equi.yaml")
    assert recipe_path("configs/lift.yaml") in ("configs/lift.yaml", str(RECIPES / "lift.yaml"))
    assert recipe_path("nothing_like_it") == "nothing_like_it"  # left for LightningCLI's own error


@pytest.mark.slow
def test_missing_escnn_is_one_clear_line():
    code = ("import sys; sys.modules['escnn'] = None\n"
            "from equidiff_relaxed.errors import run_cli\n"
            "from equidiff_relaxed.cli.evaluate import main\n"
            "sys.exit(run_cli(main, ['--checkpoint', 'x.ckpt', '--out', 'o']))")
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "error: escnn is not installed: pip install --no-deps escnn==1.0.11 (docs/installation.md)"]


@pytest.mark.slow
@pytest.mark.parametrize("script", ["datasets/describe.py", "studies/regions.py", "train.py"])
def test_repository_scripts_run_this_checkouts_package(tmp_path, script):
    """A different equidiff_relaxed earlier on the path (an installed copy) must not be the one a script runs."""
    fake = tmp_path / "other" / "equidiff_relaxed"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the other tree was imported')\n")
    proc = run_subprocess(script, "--help", cwd=tmp_path, env={"PYTHONPATH": str(fake.parent)})
    assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr[-2000:]


@pytest.mark.slow
def test_speed_benchmark_runs_for_every_registered_family(tmp_path):
    from equidiff_relaxed.policy.families import family_names

    out = tmp_path / "speed.json"
    proc = run_script("benchmarks/speed.py", "--quick", "--mlp-only", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["low_dim_mlp"]
    assert list(rows) == list(family_names())
    measured = {name: r for name, r in rows.items() if "skipped" not in r}
    assert set(rows) - set(measured) == {"relaxed_conv"}  # it relaxes image encoders: low-dim data have none
    assert all(r["train_samples_per_s"] > 0 and r["infer_ms_per_chunk"] > 0 for r in measured.values())
    assert rows["equi"]["train_speed_vs_equi"] == 1.0 and "train_speed_vs_plain" in rows["relaxed"]


@pytest.mark.slow
def test_speed_benchmark_times_the_robomimic_image_recipe_and_skips_families_without_images(tmp_path):
    out = tmp_path / "speed.json"
    proc = run_script("benchmarks/speed.py", "--quick", "--sections", "robomimic_image,robomimic_image_stride",
                      "--families", "plain,relaxed,canonical", "--threads", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["hardware"].endswith("1 threads")
    assert results["robomimic_image_stride"]["relaxed"]["train_samples_per_s"] > 0
    rows = results["robomimic_image"]
    assert rows["relaxed"]["train_samples_per_s"] > 0 and "train_speed_vs_plain" in rows["relaxed"]
    assert "top-down images turn exactly only by quarter turns" in rows["canonical"]["skipped"]
    bad = run_script("benchmarks/speed.py", "--quick", "--sections", "nope", "--out", str(out))
    assert bad.returncode == 2 and "unknown section(s) nope" in bad.stderr
