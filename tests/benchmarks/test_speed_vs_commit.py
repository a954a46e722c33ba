"""benchmarks/speed_vs_commit.py: ratios are this checkout's speed over the earlier commit's base section, and a
run against HEAD itself measures both trees and leaves no worktree behind."""
import json
import subprocess

import pytest

from benchmarks import speed_vs_commit as svc
from equidiff_relaxed.errors import UserError
from tests.conftest import REPO


def rows(samples: float, ms: float) -> dict:
    return {"train_samples_per_s": samples, "infer_ms_per_chunk": ms}


def test_every_section_is_compared_with_the_earlier_base_section():
    before = {"robomimic_image": {"equi": rows(20.0, 200.0)}, "agentview_encoder_train_ms_64_images": {"default": 900.0}}
    after = {"robomimic_image": {"equi": rows(30.0, 180.0)}, "robomimic_image_stride": {"equi": rows(45.0, 150.0)},
             "agentview_encoder_train_ms_64_images": {"pool": 600.0, "stride": 300.0}}
    table = svc.speedups(before, after, "robomimic_image", ["robomimic_image", "robomimic_image_stride"])
    assert table["robomimic_image"]["equi"]["train_speedup"] == pytest.approx(1.5)
    assert table["robomimic_image_stride"]["equi"]["train_speedup"] == pytest.approx(2.25)
    assert table["robomimic_image_stride"]["equi"]["infer_time_ratio"] == pytest.approx(0.75)
    assert table["agentview_encoder"]["stride"]["train_speedup"] == pytest.approx(3.0)
    assert table["agentview_encoder"]["pool"]["train_speedup"] == pytest.approx(1.5)


@pytest.mark.slow
def test_a_quick_run_against_head_measures_both_trees_and_removes_its_worktree(tmp_path):
    out = tmp_path / "svc.json"
    assert svc.main(["--ref", "HEAD", "--families", "equi", "--sections", "robomimic_image_stride",
                     "--encoder_modes", "stride", "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["ref_rows"]["robomimic_image"]["equi"]["train_samples_per_s"] > 0
    assert result["speedup"]["robomimic_image_stride"]["equi"]["train_speedup"] > 0
    assert set(result["speedup"]["agentview_encoder"]) == {"stride"}
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=REPO, capture_output=True, text=True).stdout
    assert str(tmp_path) not in worktrees and "/ref " not in worktrees


def test_an_unknown_ref_is_one_error():
    with pytest.raises(UserError, match="not a commit"):
        svc.main(["--ref", "no-such-commit-xyz", "--out", "/nonexistent/never.json"])
