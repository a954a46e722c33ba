"""studies/compare_runs.py: a paired comparison of two families kept in two sweep folders."""
from tests.conftest import run_script
from tests.studies.test_alpha_report import write_run


def test_difference_is_paired_on_the_seeds_both_folders_have(tmp_path):
    stride, pool = tmp_path / "lift_stride", tmp_path / "lift"
    write_run(stride, "equi", 100, 0, [8, 8, 8, 8])
    write_run(stride, "equi", 100, 1, [6, 6, 6, 6])
    write_run(stride, "equi", 100, 2, [0, 0, 0, 0])  # no plain seed 2: left out
    write_run(pool, "plain", 100, 0, [4, 4, 4, 4])
    write_run(pool, "plain", 100, 1, [4, 4, 4, 4])
    write_run(pool, "equi", 100, 0, [0, 0, 0, 0])  # another family of that folder: left out
    out = tmp_path / "cmp.md"
    proc = run_script("studies/compare_runs.py", f"{stride}:equi", f"{pool}:plain", "--regions", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| lift_stride:equi")]
    assert len(rows) == 1  # no broken regions declared: all regions only
    cells = rows[0].split(" | ")
    assert cells[0] == "| lift_stride:equi − lift:plain" and cells[1:4] == ["100", "2", "all"]
    assert cells[4].startswith("+0.30")  # (0.8 + 0.6) / 2 − 0.4
    assert cells[-1].rstrip(" |") == "24 / 0"  # stride-only successes / plain-only ones, paired per episode


def test_a_side_without_such_runs_is_one_error_line(tmp_path):
    write_run(tmp_path / "a", "equi", 100, 0, [1, 1, 1, 1])
    proc = run_script("studies/compare_runs.py", f"{tmp_path / 'a'}:plain", f"{tmp_path / 'a'}:equi")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no finished plain run" in proc.stderr and str(tmp_path / "a") in proc.stderr
    proc = run_script("studies/compare_runs.py", "no-colon", f"{tmp_path / 'a'}:equi")
    assert proc.returncode != 0 and "FOLDER:MODEL" in proc.stderr
