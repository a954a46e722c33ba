"""Scripted pick (Lift) and pick-and-place (Stack) experts for :mod:`equidiff_relaxed.envs.robosuite.tasks`.

The expert reads only the observation (eef position, the object vector) and keeps its own commanded grip-site pose,
which it moves toward the current waypoint at bounded speed (``max_step`` m and ``max_turn`` rad per step) — so the
absolute-pose actions are smooth. Phases: hover above the object, descend, close the gripper, lift; Stack then
carries the cube above cubeB, lowers it onto it and opens.

Grasp yaw: a cube looks the same every 90 degrees, so the expert turns the gripper by the object's yaw reduced to
[-45, 45) degrees from its home yaw — the least wrist rotation. The demonstrations therefore do *not* turn the
gripper with theta beyond 45 degrees: their wrist motion is periodic in theta, a symmetry break of the data (see
docs/envs.md). In delta mode the same commanded pose is turned into a clipped OSC delta.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d

if TYPE_CHECKING:  # the env module registers lift / stack with this expert
    from equidiff_relaxed.envs.robosuite.tasks import RobosuiteTaskEnv

OPEN, CLOSED = -1.0, 1.0


@dataclass(frozen=True)
class PickExpertConfig:
    """Speeds (per control step), heights above the object centre (m), and the action noise std (m, rad)."""

    max_step: float = 0.015
    max_turn: float = 0.08
    hover: float = 0.10
    grasp_depth: float = 0.0
    lift: float = 0.15
    carry: float = 0.08
    reach_tolerance: float = 0.01
    grip_steps: int = 8
    release_steps: int = 6
    noise_std: float = 0.0
    symmetry_deg: float = 90.0


def yaw_of_quat(xyzw: np.ndarray) -> float:
    """Heading of a quaternion's x axis in the world xy plane (rad)."""
    m = Rotation.from_quat(np.asarray(xyzw, dtype=np.float64)).as_matrix()
    return math.atan2(m[1, 0], m[0, 0])


def nearest_equivalent_yaw(yaw: float, symmetry_deg: float) -> float:
    """``yaw`` reduced modulo the object's symmetry to [-s/2, s/2) (rad)."""
    s = math.radians(symmetry_deg)
    return (yaw + s / 2) % s - s / 2


class PickPlaceExpert:
    """See the module docstring. Call :meth:`reset` after each env reset, then :meth:`act` every step."""

    def __init__(self, env: "RobosuiteTaskEnv", config: PickExpertConfig | None = None):
        self.env = env
        self.cfg = config or PickExpertConfig()
        self.rng = np.random.default_rng(0)
        self.phase = "hover"
        self.counter = 0
        self.pos = np.zeros(3)
        self.rot = np.eye(3)
        self.gripper = OPEN

    def reset(self, rng: np.random.Generator | None = None) -> None:
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.pos, self.rot = self.env.grip_pose()
        self.home_rot = self.rot.copy()
        self.phase, self.counter, self.gripper = "hover", 0, OPEN

    # ------------------------------------------------------------------ observation parsing
    def _objects(self, obs: dict[str, np.ndarray]) -> list[tuple[np.ndarray, float]]:
        """(position, yaw) of cubeA / cube and (Stack) cubeB from the 'object' vector."""
        o = np.asarray(obs["object"], dtype=np.float64)
        out = [(o[0:3], yaw_of_quat(o[3:7]))]
        if self.env.task == "stack":
            out.append((o[7:10], yaw_of_quat(o[10:14])))
        return out

    def _grasp_rot(self, yaw: float) -> np.ndarray:
        home_yaw = math.atan2(self.home_rot[1, 0], self.home_rot[0, 0])
        turn = nearest_equivalent_yaw(yaw - home_yaw, self.cfg.symmetry_deg)
        return Rotation.from_euler("z", turn).as_matrix() @ self.home_rot

    # ------------------------------------------------------------------ motion
    def _move_toward(self, target: np.ndarray, target_rot: np.ndarray) -> bool:
        """Advance the commanded pose toward the target; True when the command has arrived."""
        step = target - self.pos
        dist = float(np.linalg.norm(step))
        self.pos = target.copy() if dist <= self.cfg.max_step else self.pos + step * (self.cfg.max_step / dist)
        delta = Rotation.from_matrix(target_rot @ self.rot.T).as_rotvec()
        angle = float(np.linalg.norm(delta))
        if angle > self.cfg.max_turn:
            delta = delta * (self.cfg.max_turn / angle)
        self.rot = Rotation.from_rotvec(delta).as_matrix() @ self.rot
        return dist <= self.cfg.max_step and angle <= self.cfg.max_turn

    def _reached(self, obs: dict[str, np.ndarray], target: np.ndarray) -> bool:
        return float(np.linalg.norm(np.asarray(obs["robot0_eef_pos"]) - target)) < self.cfg.reach_tolerance

    def _advance(self, obs: dict[str, np.ndarray]) -> None:
        c = self.cfg
        objs = self._objects(obs)
        (pick, pick_yaw) = objs[0]
        grasp_rot = self._grasp_rot(pick_yaw)
        if self.phase == "hover":
            target = pick + [0.0, 0.0, c.hover]
            if self._move_toward(target, grasp_rot) and self._reached(obs, target):
                self.phase = "descend"
        elif self.phase == "descend":
            target = pick + [0.0, 0.0, -c.grasp_depth]
            if self._move_toward(target, grasp_rot) and self._reached(obs, target):
                self.phase, self.counter = "grasp", 0
        elif self.phase == "grasp":
            self.gripper = CLOSED
            self.counter += 1
            if self.counter >= c.grip_steps:
                self.phase, self.lift_from = "lift", self.pos.copy()
        elif self.phase == "lift":
            target = self.lift_from + [0.0, 0.0, c.lift]
            arrived = self._move_toward(target, self.rot)
            if arrived and self.env.task == "stack":
                self.phase = "carry"
        elif self.phase == "carry":
            base, _ = objs[1]
            target = np.array([base[0], base[1], self.pos[2]])
            if self._move_toward(target, self.rot) and self._reached(obs, target):
                self.phase = "lower"
        elif self.phase == "lower":
            base, _ = objs[1]
            # cubeA's centre ends one half-size of each cube above cubeB's centre, plus 5 mm of clearance
            drop = base + [0.0, 0.0, self.env._obj_half[0] + self.env._obj_half[1] + 0.005 - c.grasp_depth]
            target = np.array([base[0], base[1], drop[2]])
            if self._move_toward(target, self.rot) and self._reached(obs, target):
                self.phase, self.counter = "release", 0
        elif self.phase == "release":
            self.gripper = OPEN
            self.counter += 1
            if self.counter >= c.release_steps:
                self.phase = "retreat"
        elif self.phase == "retreat":
            self._move_toward(self.pos + [0.0, 0.0, c.max_step], self.rot)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The next action in the env's action mode (abs 10-D or delta 7-D)."""
        self._advance(obs)
        pos, rot = self.pos, self.rot
        if self.cfg.noise_std > 0:
            pos = pos + self.rng.normal(0.0, self.cfg.noise_std, size=3)
            rot = Rotation.from_rotvec(self.rng.normal(0.0, self.cfg.noise_std, size=3)).as_matrix() @ rot
        if self.env.action_mode == "abs":
            return np.concatenate([pos, matrix_to_rot6d(rot), [self.gripper]]).astype(np.float32)
        eef, eef_rot = self.env.grip_pose()
        dpos = np.clip((pos - eef) / 0.05, -1.0, 1.0)
        drot = np.clip(Rotation.from_matrix(rot @ eef_rot.T).as_rotvec() / 0.5, -1.0, 1.0)
        return np.concatenate([dpos, drot, [self.gripper]]).astype(np.float32)
