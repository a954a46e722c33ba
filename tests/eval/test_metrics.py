"""The per-episode metric registry: built-in metrics in order, a new one reaches every episode and region mean."""
import pytest

from equidiff_relaxed.envs.outcomes import EpisodeMetrics
from equidiff_relaxed.eval.metrics import metric_names, region_means, register_metric, unregister_metric
from equidiff_relaxed.eval.plan import EpisodeSpec
from equidiff_relaxed.eval.result import EvalResult, episode_dict
from equidiff_relaxed.eval.rollouts import EpisodeResult


def episode(region: int, index: int, steps: int, dist: float | None) -> EpisodeResult:
    spec = EpisodeSpec(index=index, region=region, theta=0.1 + region, reset_seed=index, noise_seed=index)
    return EpisodeResult(spec, success=dist == 0.0, steps=steps, metrics=EpisodeMetrics(final_goal_dist=dist))


def test_builtin_metrics_come_first_in_a_fixed_order():
    assert metric_names()[:4] == ("final_goal_dist", "min_goal_dist", "steps_to_contact", "wrist_margin")
    keys = list(episode_dict(episode(0, 0, 5, 0.1)))
    assert keys[:5] == ["region", "index", "theta", "success", "steps"] and keys[-2:] == ["failure", "failure_reason"]


def test_a_registered_metric_is_in_every_episode_and_averaged_per_region_where_it_applies():
    register_metric("double_steps", lambda ep: 2 * ep.steps if ep.steps > 3 else None)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_metric("double_steps", lambda ep: 0)
        results = [episode(0, 0, 5, 0.0), episode(0, 1, 2, 0.2), episode(1, 0, 8, None)]
        result = EvalResult.from_episodes(results, 2, "push")
        assert [e["double_steps"] for e in result.episodes] == [10, None, 16]
        rows = result.to_dict()["regions"]
        assert rows[0]["metrics"]["double_steps"] == 10.0 and rows[1]["metrics"]["double_steps"] == 16.0
        assert rows[0]["metrics"]["final_goal_dist"] == pytest.approx(0.1) and rows[1]["metrics"]["final_goal_dist"] is None
    finally:
        unregister_metric("double_steps")
    assert "double_steps" not in metric_names()
    assert region_means([], 1) == [{name: None for name in metric_names()}]
