"""Delta OSC actions -> EquiDiff's 10-D absolute pose actions, by replaying a demo's simulator states.

A robomimic / MimicGen demo stores 7-D delta OSC_POSE actions a_t = (dpos, axis-angle drot, gripper) and the
simulator state s_t before each. Setting s_t and handing a_t to the recorded (delta, world-frame) arm controller
gives the pose the controller aimed at, in the world frame: the absolute action

    (p_t, rot6d(R_t), gripper_t)   (10-D: position (3,), the first two columns of R_t (6,), gripper (1,))

that an absolute OSC controller turns into the same motion. Under a rotation g about the vertical axis, p_t is a
``pos3`` field and R_t turns to g R_t, so its columns are rotated ``rot6d``; the gripper is invariant.

:func:`replay_object_error` checks a conversion: it drives an absolute controller with the converted actions from
the demo's first state and measures how far every free body (the task's objects) ends from the demo's last state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from equidiff_relaxed.envs.robosuite.env_args import robosuite_env_from_env_args, with_controller
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d, rot6d_to_matrix


def absolute_pose_to_osc(action: np.ndarray) -> np.ndarray:
    """(10,) position, rot6d, gripper -> (7,) absolute OSC_POSE input: position, axis-angle, gripper in [-1, 1]."""
    a = np.asarray(action, dtype=np.float64)
    rotvec = Rotation.from_matrix(rot6d_to_matrix(a[3:9])).as_rotvec()
    return np.concatenate([a[:3], rotvec, [np.clip(a[9], -1.0, 1.0)]])


@dataclass
class _Sim:
    """One headless robosuite env built from ``env_args`` with its arm controller's input type forced."""

    rs: Any
    arm: Any

    @classmethod
    def build(cls, env_args: dict[str, Any], absolute: bool) -> "_Sim":
        controlled = with_controller(env_args, absolute=absolute)
        kwargs = dict(controlled["env_kwargs"])
        kwargs.pop("camera_names", None)
        rs = robosuite_env_from_env_args({**controlled, "type": 1, "env_kwargs": kwargs}, has_offscreen_renderer=False,
                                         use_camera_obs=False, ignore_done=True, horizon=100_000)
        rs.reset()
        return cls(rs, rs.robots[0].part_controllers["right"])

    def set_state(self, state: np.ndarray, source: str) -> None:
        size = len(self.rs.sim.get_state().flatten())
        if state.shape != (size,):
            raise UserError(f"{source}: a state has {state.shape[-1]} entries, but the env built from env_args has "
                            f"{size} (a different robot or task model)")
        self.rs.sim.set_state_from_flattened(np.asarray(state, dtype=np.float64))
        self.rs.sim.forward()
        self.arm.update(force=True)

    def free_body_positions(self) -> np.ndarray:
        """(K, 3) world positions of the model's free-jointed bodies (the task's objects)."""
        model, qpos = self.rs.sim.model, self.rs.sim.data.qpos
        adr = [int(model.jnt_qposadr[j]) for j in range(model.njnt) if int(model.jnt_type[j]) == 0]
        return np.array([qpos[a:a + 3] for a in adr], dtype=np.float64).reshape(-1, 3)

    def close(self) -> None:
        self.rs.close()


class AbsoluteActionConverter:
    """Converts one dataset's demos (its ``env_args``: a robosuite env, delta OSC_POSE actions) to absolute actions."""

    def __init__(self, env_args: dict[str, Any], source: str):
        if not isinstance(env_args, dict) or not env_args.get("env_name") or env_args.get("type", 1) != 1:
            raise UserError("--abs_actions needs env_args naming a robosuite env (env_name, type 1)", source)
        self.env_args, self.source = env_args, source
        self._delta = _Sim.build(env_args, absolute=False)
        self._absolute: _Sim | None = None

    def absolute_env_args(self) -> dict[str, Any]:
        """The dataset's ``env_args`` with the arm controller taking absolute world-frame input (robosuite 1.5 form),
        as the converted actions need it."""
        return with_controller(self.env_args, absolute=True)

    def convert(self, states: np.ndarray, actions: np.ndarray, name: str) -> np.ndarray:
        """(L, S) states, (L, 7) delta actions -> (L, 10) float32 absolute actions (position, rot6d, gripper)."""
        if actions.ndim != 2 or actions.shape[1] != 7:
            raise UserError(f"{name}: --abs_actions converts 7-D delta OSC_POSE actions, got shape {actions.shape}",
                            self.source)
        out = np.empty((len(actions), 10), dtype=np.float32)
        for t, (state, action) in enumerate(zip(states, actions)):
            self._delta.set_state(np.asarray(state), f"{self.source} {name}")
            self._delta.arm.set_goal(np.asarray(action[:6], dtype=np.float64))
            goal_pos = np.asarray(self._delta.arm.goal_pos, dtype=np.float64)
            goal_rot = np.asarray(self._delta.arm.goal_ori, dtype=np.float64)
            out[t] = np.concatenate([goal_pos, matrix_to_rot6d(goal_rot), [action[6]]])
        return out

    def replay_object_error(self, states: np.ndarray, absolute_actions: np.ndarray) -> float:
        """Largest distance (m) between each free body after replaying ``absolute_actions[:-1]`` from ``states[0]``
        with an absolute controller and where the demo's last state has it."""
        if self._absolute is None:
            self._absolute = _Sim.build(self.env_args, absolute=True)
        sim = self._absolute
        sim.set_state(np.asarray(states[-1]), self.source)
        target = sim.free_body_positions()
        sim.set_state(np.asarray(states[0]), self.source)
        sim.arm.reset_goal()
        for action in absolute_actions[:-1]:
            sim.rs.step(absolute_pose_to_osc(action))
        reached = sim.free_body_positions()
        return float(np.max(np.linalg.norm(reached - target, axis=1))) if len(target) else 0.0

    def close(self) -> None:
        self._delta.close()
        if self._absolute is not None:
            self._absolute.close()
