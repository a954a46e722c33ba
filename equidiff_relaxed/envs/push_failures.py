"""Failure analysis of push episodes: distances, first contact and a failure category from a per-step trajectory.

Pure functions over numpy arrays (no env, no simulator), so they are tested on hand-made trajectories. A trajectory
holds one entry per observed state: index 0 is the state after reset, index t the state after env step t (10 Hz
control in the push envs). Thresholds come from the scene geometry (``PushGeometry``; defaults in brackets):

- contact: the pusher touches the puck at step t when their centres are within ``puck_radius + pusher_radius +
  CONTACT_MARGIN`` (0.025 + 0.02 + 0.002 m), or the puck is more than ``MOVED_TOL`` (2 mm) from where it started
  (only the pusher moves it, and it can touch it between two samples). ``steps_to_contact`` is the first such t.
- ``never_reached_puck``: no contact in the whole episode.
- ``stuck_at_pillar`` (only when a pillar is given): in the final state the puck or the pusher is within
  ``PILLAR_NEAR`` (1 cm) of touching the pillar (puck centre <= puck_radius + pillar_radius + 0.01 = 0.065 m from the
  pillar's axis, pusher centre <= pusher_radius + pillar_radius + 0.01 = 0.06 m), and the puck stayed within
  ``STILL_TOL`` (1 cm) of its final position over the last ``STILL_STEPS`` (10) steps (1 s). The pusher counts too
  because a straight push into the pillar typically ends with the pusher jammed against it and the puck, deflected,
  resting 3-7 cm beside it.
- ``blocked_by_wall`` (only when a wall is given, push-wall): the same test against the wall (the puck's or the
  pusher's rim within ``PILLAR_NEAR`` of the wall's face, the puck still over the last ``STILL_STEPS`` steps): a push
  that ran into the wall instead of going round its end.
- ``pushed_past_goal``: the puck came close to the goal and ended farther away than its closest approach (by more than
  ``RECEDE_TOL``, 5 mm). "Came close": the puck's path, sampled points joined by straight segments (so a fast puck
  that skips over the goal between two samples counts), passed within ``NEAR_FACTOR * success_tolerance`` (2 x 0.025 =
  0.05 m) of the goal; or the puck was at some step at or beyond the goal along the start->goal direction less than
  ``2 * NEAR_FACTOR * success_tolerance`` (0.10 m) to the side of the goal (it overshot).
- ``timed_out_moving``: any other failure (touched the puck but neither came close nor got stuck).

Categories are tested in that order (a puck stuck at the pillar is reported so even if it passed near the goal).
Successful episodes get no category; episodes of envs that report no positions get ``unknown`` when they failed.

The push envs' registration carries :data:`PUSH_ANALYSIS`: the rollout records ``pusher_pos``, ``puck_pos`` and
``goal_pos`` from ``info`` at every step, and :class:`PushScene` reads the sizes (and the pillar) from the reset
``info``. The categories every env shares (``unknown``, ``env_error``, ``nonfinite_state``) are in
:mod:`equidiff_relaxed.envs.outcomes`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from equidiff_relaxed.envs.outcomes import EpisodeMetrics, FailureAnalysis, Trace

NEVER_REACHED_PUCK = "never_reached_puck"
PUSHED_PAST_GOAL = "pushed_past_goal"
STUCK_AT_PILLAR = "stuck_at_pillar"
BLOCKED_BY_WALL = "blocked_by_wall"
TIMED_OUT_MOVING = "timed_out_moving"
PUSH_CATEGORIES = (NEVER_REACHED_PUCK, PUSHED_PAST_GOAL, STUCK_AT_PILLAR, TIMED_OUT_MOVING)

CONTACT_MARGIN = 0.002   # m beyond touching centre distance still counted as contact (soft contacts, sampling)
MOVED_TOL = 0.002        # m the puck must move from its start to count as touched
NEAR_FACTOR = 2.0        # "close to the goal" = within NEAR_FACTOR * success_tolerance
RECEDE_TOL = 0.005       # m the final distance must exceed the closest approach to count as "pushed past"
PILLAR_NEAR = 0.01       # m gap to the pillar still counted as "at the pillar"
STILL_TOL = 0.01         # m the puck may wander over the last STILL_STEPS steps and still count as stuck
STILL_STEPS = 10         # steps (1 s at 10 Hz) over which "barely moved" is judged


@dataclass(frozen=True)
class SceneGeometry:
    """The few sizes (metres) the analysis needs; ``pillar_radius`` only for scenes with a pillar."""

    puck_radius: float
    pusher_radius: float
    success_tolerance: float
    pillar_radius: float | None = None
    wall_half_thickness: float | None = None


def _points(a: np.ndarray, n: int, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape == (2,):
        a = np.broadcast_to(a, (n, 2))
    if a.shape != (n, 2):
        raise ValueError(f"{name} must have shape ({n}, 2) or (2,), got {a.shape}")
    return a


def path_distance(path: np.ndarray, point: np.ndarray) -> float:
    """Smallest distance from ``point`` (2,) to the polyline through ``path`` (T, 2)."""
    path = np.asarray(path, dtype=np.float64)
    if len(path) == 1:
        return float(np.linalg.norm(path[0] - point))
    a, b = path[:-1], path[1:]
    ab = b - a
    denom = np.maximum((ab * ab).sum(axis=1), 1e-18)
    u = np.clip(((point - a) * ab).sum(axis=1) / denom, 0.0, 1.0)
    return float(np.linalg.norm(a + u[:, None] * ab - point, axis=1).min())


def first_contact(pusher: np.ndarray, puck: np.ndarray, geom: SceneGeometry) -> int | None:
    """Index of the first state in which the pusher touches the puck (see the module docstring), None if never."""
    close = np.linalg.norm(pusher - puck, axis=1) <= geom.puck_radius + geom.pusher_radius + CONTACT_MARGIN
    moved = np.linalg.norm(puck - puck[0], axis=1) > MOVED_TOL
    hits = np.flatnonzero(close | moved)
    return int(hits[0]) if len(hits) else None


def _stuck_at_pillar(pusher: np.ndarray, puck: np.ndarray, pillar: np.ndarray, geom: SceneGeometry) -> bool:
    pillar_radius = geom.pillar_radius or 0.0
    puck_gap = float(np.linalg.norm(puck[-1] - pillar)) - geom.puck_radius - pillar_radius
    pusher_gap = float(np.linalg.norm(pusher[-1] - pillar)) - geom.pusher_radius - pillar_radius
    wander = float(np.linalg.norm(puck[-STILL_STEPS - 1:] - puck[-1], axis=1).max())
    return min(puck_gap, pusher_gap) <= PILLAR_NEAR and wander <= STILL_TOL


def _came_close(puck: np.ndarray, goal: np.ndarray, geom: SceneGeometry) -> bool:
    near = NEAR_FACTOR * geom.success_tolerance
    if path_distance(puck, goal[-1]) < near:
        return True
    direction = goal[-1] - puck[0]
    length = float(np.linalg.norm(direction))
    if length < 1e-9:
        return False
    d = direction / length
    rel = puck - goal[-1]
    along = rel @ d
    side = np.abs(rel[:, 0] * d[1] - rel[:, 1] * d[0])
    return bool(np.any((along >= 0) & (side < 2 * near)))


def _blocked_by_wall(pusher: np.ndarray, puck: np.ndarray, wall: np.ndarray, geom: SceneGeometry) -> bool:
    half = geom.wall_half_thickness or 0.0
    puck_gap = _point_segment_distance(puck[-1], wall[0], wall[1]) - geom.puck_radius - half
    pusher_gap = _point_segment_distance(pusher[-1], wall[0], wall[1]) - geom.pusher_radius - half
    wander = float(np.linalg.norm(puck[-STILL_STEPS - 1:] - puck[-1], axis=1).max())
    return min(puck_gap, pusher_gap) <= PILLAR_NEAR and wander <= STILL_TOL


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip(np.dot(p - a, ab) / max(float(np.dot(ab, ab)), 1e-18), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


def analyse_episode(pusher: np.ndarray, puck: np.ndarray, goal: np.ndarray, success: bool, geom: SceneGeometry,
                    pillar: np.ndarray | None = None, wall: np.ndarray | None = None) -> EpisodeMetrics:
    """Distances, first contact and failure category of one episode.

    ``pusher``, ``puck``: (T, 2) world xy per state (index 0 = after reset); ``goal``: (T, 2) or (2,) (the goal is
    fixed; the last row is used); ``pillar``: (2,) xy of the pillar, or None for scenes without one; ``wall``: (2, 2)
    xy of the wall's two ends, (W, 2, 2) for several walls, or None.
    """
    puck = np.asarray(puck, dtype=np.float64)
    if puck.ndim != 2 or puck.shape[1] != 2 or len(puck) == 0:
        raise ValueError(f"puck must have shape (T, 2) with T >= 1, got {puck.shape}")
    n = len(puck)
    pusher, goal = _points(pusher, n, "pusher"), _points(goal, n, "goal")
    dist = np.linalg.norm(puck - goal, axis=1)
    contact = first_contact(pusher, puck, geom)
    failure = None
    if not success:
        if contact is None:
            failure = NEVER_REACHED_PUCK
        elif pillar is not None and _stuck_at_pillar(pusher, puck, np.asarray(pillar, dtype=np.float64), geom):
            failure = STUCK_AT_PILLAR
        elif wall is not None and any(_blocked_by_wall(pusher, puck, w, geom)
                                      for w in np.asarray(wall, dtype=np.float64).reshape(-1, 2, 2)):
            failure = BLOCKED_BY_WALL
        elif _came_close(puck, goal, geom) and dist[-1] > path_distance(puck, goal[-1]) + RECEDE_TOL:
            failure = PUSHED_PAST_GOAL
        else:
            failure = TIMED_OUT_MOVING
    return EpisodeMetrics(float(dist[-1]), float(dist.min()), contact, failure)


PUSH_KEYS = ("pusher_pos", "puck_pos", "goal_pos")  # world xy, recorded from info at every step
PUSH_GEOMETRY_KEYS = ("puck_radius", "pusher_radius", "success_tolerance")


@dataclass(frozen=True)
class PushScene:
    """The sizes of one push scene and its pillar's xy (None without one), from the reset ``info``."""

    geom: SceneGeometry
    pillar: np.ndarray | None = None
    wall: np.ndarray | None = None  # (W, 2, 2) the ends of each wall

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "PushScene | None":
        if not all(k in info for k in PUSH_GEOMETRY_KEYS + PUSH_KEYS):
            return None
        has_pillar = "pillar_pos" in info and "pillar_radius" in info
        has_wall = "wall_ends" in info and "wall_half_thickness" in info
        geom = SceneGeometry(*(float(info[k]) for k in PUSH_GEOMETRY_KEYS),
                             pillar_radius=float(info["pillar_radius"]) if has_pillar else None,
                             wall_half_thickness=float(info["wall_half_thickness"]) if has_wall else None)
        return cls(geom, np.asarray(info["pillar_pos"], dtype=np.float64) if has_pillar else None,
                   np.asarray(info["wall_ends"], dtype=np.float64).reshape(-1, 2, 2) if has_wall else None)

    def analyse(self, trace: Trace, success: bool) -> EpisodeMetrics:
        return analyse_episode(trace["pusher_pos"], trace["puck_pos"], trace["goal_pos"], success, self.geom,
                               self.pillar, self.wall)


PUSH_ANALYSIS = FailureAnalysis(
    categories=((NEVER_REACHED_PUCK, "reach"), (PUSHED_PAST_GOAL, "past"), (STUCK_AT_PILLAR, "pillar"),
                (TIMED_OUT_MOVING, "moving")),
    trace_keys=PUSH_KEYS, scene=PushScene.from_info)

WALL_ANALYSIS = FailureAnalysis(
    categories=((NEVER_REACHED_PUCK, "reach"), (PUSHED_PAST_GOAL, "past"), (STUCK_AT_PILLAR, "pillar"),
                (BLOCKED_BY_WALL, "wall"), (TIMED_OUT_MOVING, "moving")),
    trace_keys=PUSH_KEYS, scene=PushScene.from_info)  # push-wall: the push categories and blocked_by_wall
