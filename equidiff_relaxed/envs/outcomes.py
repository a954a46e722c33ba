"""What an episode's failure analysis returns, the categories every env shares, and how an env declares its own.

An env's registration (:mod:`equidiff_relaxed.envs.registry`) may carry a :class:`FailureAnalysis`: the ``info``
entries its rollout records at every step (``trace_keys``: world positions, joint angles), how to read the scene's
constant sizes from the reset ``info`` (``scene``), and its failure categories in the order they are tested. The
evaluation records the trace, checks it for NaN/inf, and asks the scene for the episode's :class:`EpisodeMetrics`;
reports take the categories and their column labels from the registered analyses.

Three categories belong to no env: ``unknown`` (a failed episode of an env with no analysis, or whose info lacked
what its analysis needs), and the rollout's own ``env_error`` (the env raised in reset/step/render, or its worker
process died) and ``nonfinite_state`` (the env returned a NaN/inf observation or traced position).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Protocol

import numpy as np

UNKNOWN = "unknown"
ENV_ERROR = "env_error"              # the env raised, or its worker process died (set by the rollout)
NONFINITE_STATE = "nonfinite_state"  # the env returned a non-finite observation or position (set by the rollout)
FAULTS = (ENV_ERROR, NONFINITE_STATE)
SHARED_COLUMNS = {UNKNOWN: "unknown", ENV_ERROR: "enverr", NONFINITE_STATE: "nonfin"}


@dataclass(frozen=True)
class EpisodeMetrics:
    """Per-episode failure analysis; distances in metres, None where the env reports no positions (pick episodes:
    the goal distance is the height the object still lacked, see :mod:`equidiff_relaxed.envs.robosuite.pick_failures`)."""

    final_goal_dist: float | None = None
    min_goal_dist: float | None = None
    steps_to_contact: int | None = None
    failure: str | None = None  # a category of the env's analysis for a failed episode, None for a success
    wrist_margin: float | None = None  # pick episodes: smallest distance (rad) of the wrist from its range's ends

    def to_dict(self) -> dict:
        return asdict(self)


def unknown_metrics(success: bool) -> EpisodeMetrics:
    """Metrics of an episode whose env reports no positions: nothing measured, failures are ``unknown``."""
    return EpisodeMetrics(failure=None if success else UNKNOWN)


Trace = dict[str, np.ndarray]  # info key -> (T, ...) float64, one row per observed state (0: after reset)


class Scene(Protocol):
    """The constants of one episode's scene (sizes, fixed obstacles), read from its reset ``info``."""

    def analyse(self, trace: Trace, success: bool) -> EpisodeMetrics:
        """The episode's metrics and failure category from its recorded trace."""


@dataclass(frozen=True)
class FailureAnalysis:
    """How an env's failed episodes are told apart.

    ``categories``: (category, short column label for tables), in the order they are tested; ``trace_keys``: the
    ``info`` entries recorded at every step; ``scene``: reset ``info`` -> a :class:`Scene`, or None when the info
    lacks what the analysis needs (the episode's failures are then ``unknown``)."""

    categories: tuple[tuple[str, str], ...]
    trace_keys: tuple[str, ...]
    scene: Callable[[dict[str, Any]], Scene | None]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.categories)

    def metrics(self, scene: Scene | None, rows: list[dict[str, np.ndarray]], success: bool) -> tuple[
            EpisodeMetrics, Trace | None]:
        """(metrics, stacked trace) of one recorded episode; ``unknown`` metrics without a scene or rows."""
        if scene is None or not rows:
            return unknown_metrics(success), None
        trace = {k: np.stack([r[k] for r in rows]) for k in self.trace_keys}
        return scene.analyse(trace, success), trace


def trace_row(info: dict[str, Any], keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """``info``'s entries ``keys`` as float64 arrays, None if one is missing."""
    if not all(k in info for k in keys):
        return None
    return {k: np.asarray(info[k], dtype=np.float64) for k in keys}


__all__ = ["EpisodeMetrics", "FailureAnalysis", "Scene", "Trace", "UNKNOWN", "ENV_ERROR", "NONFINITE_STATE", "FAULTS",
           "SHARED_COLUMNS", "trace_row", "unknown_metrics"]
