"""Per-episode metrics: the registry every evaluation report reads.

A metric is a function of one finished episode (:class:`~equidiff_relaxed.eval.rollouts.EpisodeResult`: its plan
entry, outcome, step count, failure analysis ``metrics`` and recorded ``trace`` of world positions) returning a
number, or None where it does not apply. Each registered metric becomes a field of every episode in results.json
(and a sweep's eval.json) and, averaged over the episodes where it applies, a per-region value (``metrics`` of each
region row). Adding one is a function plus one :func:`register_metric` line::

    def puck_path_length(ep):
        return None if ep.trace is None or "puck_pos" not in ep.trace else float(
            np.linalg.norm(np.diff(ep.trace["puck_pos"], axis=0), axis=1).sum())

    register_metric("puck_path_length", puck_path_length)
"""
from __future__ import annotations

import math
from typing import Any, Callable

from equidiff_relaxed.eval.rollouts import EpisodeResult

Metric = Callable[[EpisodeResult], "float | int | None"]
_METRICS: dict[str, Metric] = {}


def register_metric(name: str, fn: Metric) -> Metric:
    """Add metric ``name`` (new names only); returns ``fn``."""
    if name in _METRICS:
        raise ValueError(f"metric {name!r} is already registered")
    if not name.isidentifier():
        raise ValueError(f"metric name {name!r} must be an identifier")
    _METRICS[name] = fn
    return fn


def unregister_metric(name: str) -> None:
    """Remove a metric (for tests and plug-ins that register temporary ones)."""
    _METRICS.pop(name, None)


def metric_names() -> tuple[str, ...]:
    return tuple(_METRICS)


def episode_metrics(ep: EpisodeResult) -> dict[str, Any]:
    """Every registered metric of one episode, in registration order."""
    return {name: fn(ep) for name, fn in _METRICS.items()}


def region_means(episodes: list[dict[str, Any]], n_regions: int) -> list[dict[str, float | None]]:
    """Per region, the mean of each registered metric over the episodes (results.json entries) where it applies."""
    rows = []
    for k in range(n_regions):
        mine = [e for e in episodes if e["region"] == k]
        row: dict[str, float | None] = {}
        for name in _METRICS:
            values = [float(e[name]) for e in mine if e.get(name) is not None and math.isfinite(float(e[name]))]
            row[name] = sum(values) / len(values) if values else None
        rows.append(row)
    return rows


def _analysed(field: str) -> Metric:
    return lambda ep: getattr(ep.metrics, field) if ep.metrics is not None else None


# The failure analysis's measurements (envs/push_failures.py, envs/robosuite/pick_failures.py).
register_metric("final_goal_dist", _analysed("final_goal_dist"))
register_metric("min_goal_dist", _analysed("min_goal_dist"))
register_metric("steps_to_contact", _analysed("steps_to_contact"))
register_metric("wrist_margin", _analysed("wrist_margin"))

__all__ = ["Metric", "episode_metrics", "metric_names", "region_means", "register_metric", "unregister_metric"]
