"""Failure analysis of pick episodes (robosuite Lift): reach, grasp, lift and the wrist limit, from a per-step trace.

Pure functions over numpy arrays (no simulator), tested on hand-made trajectories. A trajectory holds one entry per
observed state: index 0 is the state after reset, index t the state after env step t. Inputs: the grip site and the
object's centre (world xyz), the wrist joint's angle (Panda joint 7) and its range, and ``success_z``, the height the
object's centre must pass (robosuite Lift: table top + 0.04 m). Thresholds (defaults in brackets):

- contact: the grip site is within ``REACH_TOL`` (3 cm) of the object's centre; ``steps_to_contact`` is the first
  such t.
- ``wrist_at_limit``: the wrist came within ``WRIST_MARGIN`` (0.05 rad) of either end of its range at some step.
  Tested first: it is the orientation-dependent cause these tasks are built around (grasping with a yaw that follows
  theta drives the wrist into its limit in region 6 of Lift grasp-360), whatever happened after.
- ``never_reached_object``: no contact in the whole episode.
- ``grasp_missed``: contact, but the object never rose more than ``LIFTED`` (1 cm) above where it started.
- ``dropped``: the object rose more than ``LIFTED`` and ended more than ``DROP_TOL`` (1 cm) below its highest point.
- ``lifted_too_low``: any other failure (lifted and held, but not to ``success_z`` before the time limit).

"Goal distance" of a pick episode is the height the object still lacked to ``success_z`` (0 once there):
``final_goal_dist`` at the last state, ``min_goal_dist`` at its highest. ``wrist_margin`` is the smallest distance
(rad) of the wrist from either end of its range over the episode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from equidiff_relaxed.envs.outcomes import EpisodeMetrics, FailureAnalysis, Trace

WRIST_AT_LIMIT = "wrist_at_limit"              # the wrist joint came within reach of its range's end
NEVER_REACHED_OBJECT = "never_reached_object"  # the grip site never came near the object
GRASP_MISSED = "grasp_missed"                  # reached the object, never lifted it
DROPPED = "dropped"                            # lifted the object, then it fell back
LIFTED_TOO_LOW = "lifted_too_low"              # lifted and held, but not high enough in time
PICK_CATEGORIES = (WRIST_AT_LIMIT, NEVER_REACHED_OBJECT, GRASP_MISSED, DROPPED, LIFTED_TOO_LOW)

REACH_TOL = 0.03      # m from the grip site to the object's centre counted as contact
WRIST_MARGIN = 0.05   # rad from either end of the wrist's range counted as "at the limit"
LIFTED = 0.01         # m the object must rise above its start to count as lifted
DROP_TOL = 0.01       # m below its highest point the object must end to count as dropped


@dataclass(frozen=True)
class PickGeometry:
    """``wrist_limits``: (low, high) range of the wrist joint (rad); ``success_z``: world height (m) the object's
    centre must pass."""

    wrist_limits: tuple[float, float]
    success_z: float


def _series(a: np.ndarray, n: int | None, width: int | None, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    want = (n,) if width is None else (n, width)
    if a.ndim != len(want) or (n is not None and a.shape[0] != n) or (width is not None and a.shape[1] != width):
        raise ValueError(f"{name} must have shape {tuple('T' if d is None else d for d in want)}, got {a.shape}")
    return a


def analyse_pick(grip: np.ndarray, obj: np.ndarray, wrist: np.ndarray, success: bool,
                 geom: PickGeometry) -> EpisodeMetrics:
    """Contact, height still lacking, wrist margin and failure category of one pick episode.

    ``grip``, ``obj``: (T, 3) world positions of the grip site and the object's centre per state (index 0 = after
    reset); ``wrist``: (T,) wrist joint angle (rad).
    """
    obj = _series(obj, None, 3, "obj")
    if len(obj) == 0:
        raise ValueError("obj must hold at least one state")
    n = len(obj)
    grip, wrist = _series(grip, n, 3, "grip"), _series(wrist, n, None, "wrist")
    low, high = geom.wrist_limits
    margin = float(np.minimum(wrist - low, high - wrist).min())
    close = np.flatnonzero(np.linalg.norm(grip - obj, axis=1) <= REACH_TOL)
    contact = int(close[0]) if len(close) else None
    rise = obj[:, 2] - obj[0, 2]
    lacking = np.maximum(geom.success_z - obj[:, 2], 0.0)
    failure = None
    if not success:
        if margin <= WRIST_MARGIN:
            failure = WRIST_AT_LIMIT
        elif contact is None:
            failure = NEVER_REACHED_OBJECT
        elif rise.max() <= LIFTED:
            failure = GRASP_MISSED
        elif rise[-1] < rise.max() - DROP_TOL:
            failure = DROPPED
        else:
            failure = LIFTED_TOO_LOW
    return EpisodeMetrics(float(lacking[-1]), float(lacking.min()), contact, failure, wrist_margin=margin)


PICK_KEYS = ("grip_pos", "object_pos", "wrist_angle")  # recorded from info at every step
PICK_GEOMETRY_KEYS = ("wrist_limits", "success_z")


@dataclass(frozen=True)
class PickScene:
    """The wrist's range and the success height of one pick scene, from the reset ``info``."""

    geom: PickGeometry

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "PickScene | None":
        if not all(k in info for k in PICK_GEOMETRY_KEYS + PICK_KEYS):
            return None
        low, high = (float(v) for v in np.asarray(info["wrist_limits"], dtype=np.float64).reshape(2))
        return cls(PickGeometry((low, high), float(info["success_z"])))

    def analyse(self, trace: Trace, success: bool) -> EpisodeMetrics:
        return analyse_pick(trace["grip_pos"], trace["object_pos"], trace["wrist_angle"].reshape(-1), success,
                            self.geom)


PICK_ANALYSIS = FailureAnalysis(
    categories=((WRIST_AT_LIMIT, "wrist"), (NEVER_REACHED_OBJECT, "noreach"), (GRASP_MISSED, "nograsp"),
                (DROPPED, "drop"), (LIFTED_TOO_LOW, "low")),
    trace_keys=PICK_KEYS, scene=PickScene.from_info)
