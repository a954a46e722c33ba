"""EvalResult: one schema for evaluate's results.json entries, a sweep's eval.json and the training callback."""
import json

from equidiff_relaxed.eval.result import EvalResult
from equidiff_relaxed.eval.stats import RegionStats
from tests.conftest import REPO


def test_round_trip_and_mean_over_regions():
    regions = [RegionStats(0, 0.0, 1.0, 4, 3), RegionStats(1, 1.0, 2.0, 2, 0), RegionStats(2, 2.0, 3.0, 0, 0)]
    failures = [{"reach": 1, "past": 0}, {"reach": 0, "past": 2}, {"reach": 0, "past": 0}]
    found = EvalResult("push", regions, failures, episodes=[{"region": 0, "success": True}], model="relaxed",
                       group="C8", group_order=8, relaxation={"enc": {"weights": [[0.5, 0.5]]}})
    assert found.mean_success == (0.75 + 0.0) / 2  # regions without episodes are left out
    data = json.loads(json.dumps(found.to_dict()))
    assert data["failures"] == {"reach": 1, "past": 2} and data["regions"][1]["failures"] == {"reach": 0, "past": 2}
    assert EvalResult.from_dict(data) == found


def test_reads_the_committed_sweep_results_of_earlier_versions():
    """eval.json files written before EvalResult existed (no group, checkpoint, ...) read with their numbers."""
    paths = sorted((REPO / "benchmarks" / "results").glob("*/*/runs/*/eval.json"))
    assert paths
    for path in paths[:: max(1, len(paths) // 12)]:
        data = json.loads(path.read_text())
        found = EvalResult.from_dict(data)
        assert [r.successes for r in found.regions] == [r["successes"] for r in data["regions"]], path
        assert abs(found.mean_success - data["mean_success"]) < 1e-12, path
