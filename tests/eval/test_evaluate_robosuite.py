"""eval.py on robosuite Lift with vectorized rollouts (skipped without the [robosuite] extra)."""
import json

import pytest

pytest.importorskip("robosuite")

from equidiff_relaxed.demos.generate import GenerateConfig, generate  # noqa: E402
from equidiff_relaxed.envs.robosuite.pick_failures import PICK_CATEGORIES  # noqa: E402
from tests.conftest import run_script  # noqa: E402
from tests.eval.test_evaluate import fit  # noqa: E402


@pytest.mark.slow
def test_tiny_lift_policy_evaluates_per_region_on_two_envs(tmp_path):
    dataset = str(tmp_path / "lift.zarr")
    generate(GenerateConfig("lift", episodes=4, seed=0, max_steps=60), dataset, progress=False)
    fit(tmp_path / "relaxed", "relaxed", dataset)
    ckpt = tmp_path / "relaxed" / "last.ckpt"
    out = tmp_path / "eval"
    proc = run_script("eval.py", "--checkpoint", str(ckpt), "--regions", "2", "--episodes-per-region", "1",
                      "--n-envs", "2", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    entry = results["checkpoints"][0]
    assert entry["env"] == "lift" and entry["model"] == "relaxed"
    assert [r["episodes"] for r in entry["regions"]] == [1, 1]
    # the recorded episode limit (60) came with the checkpoint: no episode runs longer
    assert all(0 < e["steps"] <= 60 for e in entry["episodes"])
    assert [e["region"] for e in entry["episodes"]] == [0, 1]
    # Lift's info feeds the pick failure analysis: height lacking, wrist margin, a pick category per failure
    for e in entry["episodes"]:
        assert e["final_goal_dist"] >= e["min_goal_dist"] >= 0 and isinstance(e["wrist_margin"], float)
        assert (e["failure"] is None) == e["success"] and (e["success"] or e["failure"] in PICK_CATEGORIES)
    assert sum(entry["failures"].values()) == sum(not e["success"] for e in entry["episodes"])
    assert sum(entry["failures"][c] for c in PICK_CATEGORIES) == sum(entry["failures"].values())
    assert (out / "regions.png").stat().st_size > 0
