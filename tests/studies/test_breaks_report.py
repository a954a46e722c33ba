"""studies/breaks_report.py: the push-wall dial table and figure from a results tree."""
import json

import pytest

from studies import breaks_report
from equidiff_relaxed.errors import UserError
from tests.studies.test_alpha_report import write_run


def add_gate(results, sweep: str, run: str, gates: list[float]) -> None:
    path = results / sweep / "runs" / run / "eval.json"
    result = json.loads(path.read_text())
    path.write_text(json.dumps(dict(result, gate_per_region=gates)))


def test_dial_table_reads_every_strength_and_the_figure_is_written(tmp_path):
    full, plain30k = tmp_path / "breaks" / "push-wall", tmp_path / "breaks_plain30k" / "push-wall"
    for seed in (0, 1):
        write_run(full, "equi", 25, seed, [10, 10, 2, 10, 10, 10, 10, 10])
        write_run(full, "gated", 25, seed, [10, 10, 8, 10, 10, 10, 10, 9], [0.01, 0.02, 0.2] + [0.01] * 5)
        add_gate(tmp_path, "breaks/push-wall", f"gated_n25_s{seed}", [0.0, 0.1, 0.5] + [0.0] * 5)
        write_run(plain30k, "plain", 25, seed, [6] * 8)
        write_run(tmp_path / "breaks_dial" / "strength0.5", "equi", 25, seed, [10, 10, 6, 10, 10, 10, 10, 10])
        write_run(tmp_path / "breaks_dial" / "strength0", "equi", 25, seed, [10] * 8)
    write_run(full, "equi", 100, 0, [0] * 8)  # another demo count: not in the 25-demo table
    assert breaks_report.main(["--results", str(tmp_path)]) == 0
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): line
            for line in (tmp_path / "breaks" / "dial.md").read_text().splitlines() if line.startswith("| ")}
    # broken region 2: 2 of 10 at full strength, 6 of 10 at half, 10 of 10 without the wall
    assert rows[("equi", "1", "2")].split("|")[4].strip().startswith("0.20 (")
    assert rows[("equi", "0.5", "2")].split("|")[4].strip().startswith("0.60 (")
    assert rows[("equi", "0", "2")].split("|")[4].strip().startswith("1.00 (")
    assert rows[("gated", "1", "2")].split("|")[5].strip().startswith("0.98 (")  # symmetric regions 0, 4-7
    assert rows[("plain@30k", "1", "2")].split("|")[6].strip().startswith("0.60 (")
    assert ("equi", "0.25", "2") not in rows  # no runs at that strength
    assert (tmp_path / "breaks" / "breaks.png").stat().st_size > 10_000


def test_no_full_strength_runs_is_one_error(tmp_path):
    write_run(tmp_path / "breaks" / "push-wall", "equi", 100, 0, [10] * 8)
    with pytest.raises(UserError, match="no finished full-strength runs with 25 demos"):
        breaks_report.main(["--results", str(tmp_path)])
    assert not (tmp_path / "breaks" / "dial.md").exists()
