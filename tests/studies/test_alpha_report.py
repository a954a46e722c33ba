"""studies/alpha_report.py: the relaxation study's table from variant sweep folders and a reference sweep."""
import json
from pathlib import Path

from tests.conftest import run_script

RATIOS = [0.1, 0.9, 0.2, 0.15]  # the data breaks the symmetry in region 1 only


def write_run(out: Path, model: str, demos: int, seed: int, wins: list[int], errors: list[float] | None = None,
              deviation: float | None = None, steps: int = 3000, init_from: str | None = None,
              env: str | None = None) -> None:
    """A fake finished sweep run: ``wins[k]`` of 10 episodes succeed in region k (``env`` recorded when given)."""
    episodes = [{"region": k, "index": i, "success": i < w} for k, w in enumerate(wins) for i in range(10)]
    result = {"model": model, "demos": demos, "seed": seed, "steps": steps, "init_from": init_from,
              "regions": len(wins), "episodes": episodes,
              "equivariance_error_per_region": [{"abs": e, "rel": e} for e in (errors or [0.0] * len(wins))],
              "relaxation": {"encoder.lift": {"mean_abs_deviation_from_identity": deviation}} if deviation else None,
              "data_symmetry_map": {"data.zarr": [{"ratio": r} for r in RATIOS]}, **({"env": env} if env else {})}
    folder = out / "runs" / f"{model}_n{demos}_s{seed}"
    folder.mkdir(parents=True)
    (folder / "eval.json").write_text(json.dumps(result))


def test_report_has_a_table_per_demo_count_with_variants_against_equi(tmp_path):
    ref, ref2, study = tmp_path / "ref", tmp_path / "ref2", tmp_path / "study"
    for seed in (0, 1):
        write_run(ref, "equi", 10, seed, [10, 2, 10, 10])
        # numerically exact: errors of float round-off size, which must not count as symmetry breaking
        write_run(ref, "relaxed", 10, seed, [10, 3, 10, 10], [1e-6, 5e-6, 2e-6, 3e-6], deviation=1e-7)
        write_run(ref, "plain", 10, seed, [5, 5, 5, 5])  # not part of the study
        write_run(ref, "equi", 100, seed, [10, 10, 10, 10])  # no variant at 100 demos: left out
        write_run(ref2, "equi", 10, seed, [0, 0, 0, 0], steps=10000)  # another step budget: left out
        # broke symmetry where the data does: error rank follows the break ratio
        write_run(study / "alpha1e-5", "relaxed", 10, seed, [10, 9, 10, 10], [0.01, 0.2, 0.05, 0.02], 0.03)
        write_run(study / "relax_lr1e-2", "relaxed", 10, seed, [9, 2, 10, 10], deviation=0.001)
    write_run(study / "alpha1e-2", "relaxed", 50, 0, [10, 10, 10, 10])
    proc = run_script("studies/alpha_report.py", "--env", "push", "--alpha-dir", str(study), "--reference",
                      f"{ref},{ref2}", "--regions", "4")
    assert proc.returncode == 0, proc.stderr
    text = (study / "alpha_table.md").read_text()
    assert "broken regions [1]" in text and "### 10 demos (3000 steps)" in text and "### 50 demos" in text
    assert "### 100 demos" not in text and "| plain |" not in text
    ten = text.split("### 10 demos")[1].split("### 50 demos")[0]
    rows = [line.split(" | ")[0].strip("| ") for line in ten.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == ["equi", "relaxed α=1e-3", "relaxed α=1e-5", "relax_lr1e-2"]  # after the header
    alpha = next(line for line in ten.splitlines() if line.startswith("| relaxed α=1e-5"))
    # broken region 1: 18/20 vs equi 4/20, 14 discordant pairs all one way: McNemar p = 2 * 0.5 ** 14
    assert "| 0.90 (" in alpha and "+0.70" in alpha and f"p = {2 * 0.5 ** 14:.3g}" in alpha
    assert "| 1.00 |" in alpha  # Spearman rho of the error against the data's break ratio: same ranking
    assert "| – |" in next(line for line in ten.splitlines() if line.startswith("| relaxed α=1e-3"))


def test_a_variant_folder_of_the_reference_setting_counts_each_seed_once(tmp_path):
    ref, study = tmp_path / "ref", tmp_path / "study"
    for seed in (0, 1, 2):
        write_run(ref, "equi", 10, seed, [10, 2, 10, 10])
        write_run(ref, "relaxed", 10, seed, [10, 3, 10, 10])
    for seed in (0, 1):  # alpha1e-3 is the shipped setting: these runs repeat the reference's seeds 0 and 1
        write_run(study / "alpha1e-3", "relaxed", 10, seed, [10, 3, 10, 10])
    proc = run_script("studies/alpha_report.py", "--env", "push", "--alpha-dir", str(study), "--reference",
                      str(ref), "--regions", "4")
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in (study / "alpha_table.md").read_text().splitlines()
               if line.startswith("| relaxed α=1e-3"))
    assert row.startswith("| relaxed α=1e-3 | 3 |")  # seeds 0, 1, 2: not 5 runs


def test_residual_beta_study_shows_the_reference_residual_and_its_break_correlation(tmp_path):
    ref, study = tmp_path / "ref", tmp_path / "study"
    for seed in (0, 1):
        write_run(ref, "equi", 10, seed, [10, 2, 10, 10])
        write_run(ref, "relaxed", 10, seed, [10, 3, 10, 10])  # not asked for: left out
        # the default beta: non-equivariant where the data are symmetric (error ranks opposite to the break ratio)
        write_run(ref, "residual", 10, seed, [3, 3, 3, 3], [0.3, 0.01, 0.2, 0.25])
        write_run(study / "beta1", "residual", 10, seed, [10, 4, 10, 10], [0.01, 0.2, 0.05, 0.02])
        write_run(study / "beta1e-1", "residual", 10, seed, [6, 3, 6, 6], [0.1, 0.1, 0.1, 0.1])
    proc = run_script("studies/alpha_report.py", "--env", "push", "--alpha-dir", str(study), "--reference",
                      str(ref), "--reference-models", "equi,residual", "--regions", "4")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in (study / "alpha_table.md").read_text().splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0].strip("| ") for line in lines[1:]] == [
        "equi", "residual β=1e-2", "residual β=1", "residual β=1e-1"]  # the shipped beta, then by decreasing beta
    default = next(line for line in lines if line.startswith("| residual β=1e-2"))
    assert default.startswith("| residual β=1e-2 | 2 | 0.30 (") and "| -1.00 |" in default  # rho without w
    assert "| 1.00 |" in next(line for line in lines if line.startswith("| residual β=1 |"))
    assert "| – |" in next(line for line in lines if line.startswith("| equi"))


def test_report_without_variant_runs_is_one_clear_error(tmp_path):
    proc = run_script("studies/alpha_report.py", "--env", "push", "--alpha-dir", str(tmp_path / "none"),
                      "--reference", str(tmp_path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no variant runs" in proc.stderr and str(tmp_path / "none") in proc.stderr
