"""studies/steps_report.py: success vs optimizer steps of one cell, from steps<k> sweeps and other sweep folders."""
from tests.conftest import run_script
from tests.studies.test_alpha_report import write_run


def test_steps_table_has_a_row_per_family_and_budget_of_the_cell_only(tmp_path):
    curve, sweep = tmp_path / "curve", tmp_path / "sweep"
    write_run(curve / "steps1000", "equi", 100, 0, [5, 5, 5, 5], steps=1000)
    write_run(curve / "steps1000", "plain", 100, 0, [1, 1, 1, 1], steps=1000)
    write_run(sweep, "equi", 100, 0, [10, 9, 10, 10], steps=3000)
    write_run(sweep, "plain", 100, 0, [4, 4, 4, 4], steps=3000)
    write_run(sweep, "equi", 10, 0, [2, 2, 2, 2], steps=3000)  # another demo count
    write_run(sweep, "equi", 100, 1, [0, 0, 0, 0], steps=3000)  # another seed
    write_run(sweep, "relaxed", 100, 0, [0, 0, 0, 0], steps=1000, init_from="equi")  # fine-tuned
    proc = run_script("studies/steps_report.py", "--env", "push", "--out", str(curve), "--also", str(sweep),
                      "--regions", "4")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in (curve / "steps_table.md").read_text().splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[:3] for row in rows] == [["| plain", "1000", "1"], ["| plain", "3000", "1"],
                                                      ["| equi", "1000", "1"], ["| equi", "3000", "1"]]
    assert rows[3].split(" | ")[3].startswith("0.97")  # 39/40 of seed 0 only
    assert (curve / "steps_curve.png").stat().st_size > 0


def test_no_run_of_the_cell_is_one_clear_error(tmp_path):
    proc = run_script("studies/steps_report.py", "--env", "push", "--out", str(tmp_path), "--demos", "5")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "no finished runs with 5 demos" in proc.stderr


def test_broken_regions_declared_in_sweep_json_replace_the_data_ratio_rule(tmp_path):
    """A sweep.json beside the steps<k> folders declares the task's break, as it does for regions.py: here none, so
    the broken column is empty and the symmetric one covers every region, whatever the data's break ratio says."""
    curve = tmp_path / "curve"
    write_run(curve / "steps1000", "equi", 100, 0, [10, 0, 10, 10], steps=1000)

    def report() -> tuple[str, list[str]]:
        proc = run_script("studies/steps_report.py", "--env", "push", "--out", str(curve), "--regions", "4")
        assert proc.returncode == 0, proc.stderr
        lines = (curve / "steps_table.md").read_text().splitlines()
        return lines[0], [r for r in lines if r.startswith("| equi")][0].split(" | ")

    header, cells = report()
    assert "broken regions [1]" in header and cells[4].startswith("0.00")  # the data ratio rule: region 1
    (curve / "sweep.json").write_text('{"broken_regions": []}')
    header, cells = report()
    assert "broken regions []" in header and cells[4] == "–" and cells[5].startswith("0.75")
