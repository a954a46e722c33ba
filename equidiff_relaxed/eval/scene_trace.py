"""What a rollout records per step for the failure analysis, chosen from what the env reports in ``info``.

Push envs report ``pusher_pos``, ``puck_pos``, ``goal_pos`` (world xy) and their sizes (``puck_radius``,
``pusher_radius``, ``success_tolerance``, optional ``pillar_pos`` / ``pillar_radius``) -> :class:`PushTrace`
(analysed by :func:`failures.analyse_episode`). Pick envs (robosuite Lift) report ``grip_pos``, ``object_pos``
(world xyz), ``wrist_angle``, ``wrist_limits`` and ``success_z`` -> :class:`PickTrace` (analysed by
:func:`pick_failures.analyse_pick`). Envs reporting neither get no trace: their failures are ``unknown``.

:func:`scene_trace` picks one from the reset ``info``; its ``state(info)`` gives one flat float64 row per step, and
``analyse(states, success)`` the episode's :class:`failures.EpisodeMetrics` from the stacked rows (T, D).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from equidiff_relaxed.eval.failures import EpisodeMetrics, SceneGeometry, analyse_episode, unknown_metrics
from equidiff_relaxed.eval.pick_failures import PickGeometry, analyse_pick

PUSH_KEYS = ("pusher_pos", "puck_pos", "goal_pos")
PUSH_GEOMETRY_KEYS = ("puck_radius", "pusher_radius", "success_tolerance")
PICK_KEYS = ("grip_pos", "object_pos", "wrist_angle")
PICK_GEOMETRY_KEYS = ("wrist_limits", "success_z")
TRACE_KEYS = PUSH_KEYS + PICK_KEYS  # positions checked for NaN/inf every step


def _row(info: dict[str, Any], keys: tuple[str, ...]) -> np.ndarray | None:
    if not all(k in info for k in keys):
        return None
    return np.concatenate([np.asarray(info[k], dtype=np.float64).reshape(-1) for k in keys])


@dataclass(frozen=True)
class PushTrace:
    """Push scenes: per step the pusher, puck and goal xy (row of 6)."""

    geom: SceneGeometry
    pillar: np.ndarray | None = None  # (2,) world xy of the pillar, None without one

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "PushTrace | None":
        if not all(k in info for k in PUSH_GEOMETRY_KEYS + PUSH_KEYS):
            return None
        has_pillar = "pillar_pos" in info and "pillar_radius" in info
        geom = SceneGeometry(*(float(info[k]) for k in PUSH_GEOMETRY_KEYS),
                             pillar_radius=float(info["pillar_radius"]) if has_pillar else None)
        return cls(geom, np.asarray(info["pillar_pos"], dtype=np.float64) if has_pillar else None)

    def state(self, info: dict[str, Any]) -> np.ndarray | None:
        return _row(info, PUSH_KEYS)

    def analyse(self, states: np.ndarray, success: bool) -> EpisodeMetrics:
        return analyse_episode(states[:, 0:2], states[:, 2:4], states[:, 4:6], success, self.geom, self.pillar)


@dataclass(frozen=True)
class PickTrace:
    """Pick scenes: per step the grip site xyz, the object's xyz and the wrist angle (row of 7)."""

    geom: PickGeometry

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "PickTrace | None":
        if not all(k in info for k in PICK_GEOMETRY_KEYS + PICK_KEYS):
            return None
        low, high = (float(v) for v in np.asarray(info["wrist_limits"], dtype=np.float64).reshape(2))
        return cls(PickGeometry((low, high), float(info["success_z"])))

    def state(self, info: dict[str, Any]) -> np.ndarray | None:
        return _row(info, PICK_KEYS)

    def analyse(self, states: np.ndarray, success: bool) -> EpisodeMetrics:
        return analyse_pick(states[:, 0:3], states[:, 3:6], states[:, 6], success, self.geom)


SceneTrace = Union[PushTrace, PickTrace]


def scene_trace(reset_info: dict[str, Any]) -> SceneTrace | None:
    """The trace an env's reset ``info`` supports (push first, then pick), None if it reports neither."""
    return PushTrace.from_info(reset_info) or PickTrace.from_info(reset_info)


def episode_metrics(trace: list[np.ndarray | None], scene: SceneTrace | None, success: bool) -> EpisodeMetrics:
    """Failure analysis of one recorded episode (``unknown_metrics`` when a state or the scene is missing)."""
    if scene is None or not trace or any(t is None for t in trace):
        return unknown_metrics(success)
    return scene.analyse(np.stack(trace), success)  # type: ignore[arg-type]
