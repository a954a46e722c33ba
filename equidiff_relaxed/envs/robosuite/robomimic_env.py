"""A robomimic / MimicGen dataset's own robosuite env, rebuilt from its ``env_args`` and evaluated per orientation region.

``env_args`` is robomimic's env_meta: ``env_name`` (a robosuite env), ``type`` (1 = robosuite) and ``env_kwargs``
(``robosuite.make``'s keyword arguments as the dataset was recorded). Files written with robosuite <= 1.4 carry
part-controller configs (``{"type": "OSC_POSE", ..., "control_delta": true}``);
:func:`~equidiff_relaxed.envs.robosuite.env_args.translate_controller_configs` turns them into robosuite 1.5 composite configs with the same meaning (delta or absolute input, world frame).

Orientation regions: robosuite samples each episode's placement as usual, then the task's objects are turned about
the table centre so that the first object's yaw is the episode's theta (drawn inside region k by the paired episode
plan). :data:`ROBOMIMIC_TASKS` says, per supported task, which objects turn and whether their positions turn too
(Lift, Stack: positions and yaws; NutAssemblySquare: the nut's yaw only, since its peg stays where it is).

Observations use robomimic's keys: every robosuite observable under its own name, ``object-state`` as ``object``,
and camera images ``<camera>_image`` (H, W, 3) uint8 flipped upright, as robomimic stores them. Actions are the
dataset's: 7-D (position, axis-angle, gripper) for OSC_POSE, delta or absolute as the recorded controller takes them,
or 10-D absolute (position, rot6d, gripper), converted to OSC_POSE's 7-D absolute form. ``info`` carries ``theta``,
``region``, ``is_success`` and, for Lift, the pick failure analysis' trace (grip site, cube, wrist joint).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.envs.common import default_mujoco_gl

default_mujoco_gl()

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from equidiff_relaxed.envs.robosuite.env_args import robosuite_env_from_env_args, with_controller  # noqa: E402
from equidiff_relaxed.envs.robosuite.tasks import import_robosuite, robosuite_missing  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402
from equidiff_relaxed.symmetry.regions import region_of  # noqa: E402
from equidiff_relaxed.symmetry.rotations import wrap_to_2pi  # noqa: E402


@dataclass(frozen=True)
class RobomimicTask:
    """How a standard robosuite task is turned into orientation regions: the objects that turn (the first one's yaw
    is theta), whether their positions turn about the table centre too, the default episode length (robomimic's
    rollout horizon) and, for tasks that lift an object, how high (m above the table top) counts as lifted."""

    objects: tuple[str, ...]
    turn_positions: bool
    max_steps: int = 400
    lift_margin: float | None = None


ROBOMIMIC_TASKS: dict[str, RobomimicTask] = {
    "Lift": RobomimicTask(("cube",), True, lift_margin=0.04),
    "Stack": RobomimicTask(("cubeA", "cubeB"), True),
    "NutAssemblySquare": RobomimicTask(("SquareNut",), False),
}


def check_env_args(env_args: Any, source: str | None = None) -> dict[str, Any]:
    """``env_args`` validated: a robosuite env (type 1) that robosuite knows and this module can turn by region."""
    if not isinstance(env_args, dict) or not env_args.get("env_name"):
        raise UserError("env_args name no env (need env_name, type 1 = robosuite, env_kwargs)", source)
    if env_args.get("type", 1) != 1:
        raise UserError(f"env_args type {env_args.get('type')!r} is not robosuite (1)", source)
    name = env_args["env_name"]
    import_robosuite()
    from robosuite.environments.base import REGISTERED_ENVS

    if name not in REGISTERED_ENVS:
        raise UserError(f"env_args name env {name!r}, which robosuite does not know", source)
    if name not in ROBOMIMIC_TASKS:
        raise UserError(f"env {name!r} has no orientation regions here (supported: {', '.join(ROBOMIMIC_TASKS)})",
                        source)
    return env_args


class RobomimicEnv(gym.Env):
    """The dataset's robosuite env (see the module docstring); ``env_args`` as robomimic records them."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, env_args: dict[str, Any], n_regions: int = 8, max_steps: int | None = None,
                 image_size: int | None = None, action_dim: int | None = None, render_mode: str | None = None,
                 render_size: int = 256, render_camera: str = "frontview", cameras: list[str] | None = None):
        """``cameras``: robosuite camera names to observe as ``<camera>_image`` (default: those env_args name;
        given by evaluation from the policy's image keys, since files do not always record their cameras)."""
        self.env_args = check_env_args(env_args)
        self.env_name = env_args["env_name"]
        self.task = ROBOMIMIC_TASKS[self.env_name]
        self.n_regions, self.max_steps = n_regions, max_steps or self.task.max_steps
        self.render_mode, self.render_size, self.render_camera = render_mode, render_size, render_camera
        self._skip_images = False  # set by step_without_images
        self.action_dim_in = action_dim
        kwargs = dict(with_controller(env_args, absolute=True if action_dim == 10 else None)["env_kwargs"])
        if cameras:
            kwargs.update(camera_names=list(cameras), use_camera_obs=True, camera_depths=False)
        self.cameras = tuple(kwargs.get("camera_names") or ()) if kwargs.get("use_camera_obs") else ()
        if isinstance(kwargs.get("camera_names"), str) and self.cameras:
            self.cameras = (kwargs["camera_names"],)
        if image_size and self.cameras:
            kwargs.update(camera_heights=image_size, camera_widths=image_size)
        kwargs.update(has_renderer=False, ignore_done=True, horizon=100_000,
                      has_offscreen_renderer=bool(self.cameras) or render_mode == "rgb_array")
        self.rs = robosuite_env_from_env_args({**env_args, "type": 1, "env_kwargs": kwargs})
        self.rs.reset()
        self._image_sizes = self._camera_sizes(kwargs)
        for cam in self.cameras:  # rendered by _obs at the current state, once per step (not also inside rs.step)
            self.rs.modify_observable(f"{cam}_image", "enabled", False)
        self.robot = self.rs.robots[0]
        self._grip_site = self.rs.sim.model.site_name2id(self.robot.gripper["right"].important_sites["grip_site"])
        self._wrist_qpos = self.robot._ref_joint_pos_indexes[6]
        self._wrist_limits = np.asarray(self.rs.sim.model.jnt_range[self.robot._ref_joint_indexes[6]], np.float64)
        by_name = {o.name: o for o in self.rs.placement_initializer.mujoco_objects}
        self._joints = [by_name[name].joints[0] for name in self.task.objects]
        self._center = np.asarray(getattr(self.rs, "table_offset", np.zeros(3)), dtype=np.float64)
        first = self._obs()
        self.observation_space = gym.spaces.Dict({k: gym.spaces.Box(
            0 if v.dtype == np.uint8 else -np.inf, 255 if v.dtype == np.uint8 else np.inf, v.shape, v.dtype)
            for k, v in first.items()})
        low, high = self.rs.action_spec
        self.robosuite_action_dim = len(low)
        dim = action_dim or self.robosuite_action_dim
        if dim not in (self.robosuite_action_dim, 10):
            raise UserError(f"the policy's {dim}-D actions fit neither {self.env_name}'s "
                            f"{self.robosuite_action_dim}-D controller nor the 10-D absolute pose form")
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.next_theta: float | None = None
        self.theta, self.steps = 0.0, 0

    # ------------------------------------------------------------------ the symmetric task env contract
    def shape_meta_dict(self) -> dict[str, Any]:
        """shape_meta inferred as the converter does for these keys."""
        from equidiff_relaxed.envs.robosuite.robomimic_hdf5 import infer_shape_meta

        shapes = {k: tuple(v.shape) for k, v in self.observation_space.spaces.items()}
        return infer_shape_meta(shapes, self.action_space.shape[0], self.env_args)[0].to_dict()

    def dataset_attrs(self) -> dict[str, Any]:
        return {"env": {"name": self.env_name, "type": 1, "kwargs": self.env_args.get("env_kwargs") or {},
                        "source": "robomimic"}, "env_args": self.env_args,
                "symmetry": {"center": [float(self._center[0]), float(self._center[1])], "group": "SO(2)"}}

    def get_state(self) -> np.ndarray:
        return np.asarray(self.rs.sim.get_state().flatten(), dtype=np.float64)

    def set_state(self, state: np.ndarray) -> None:
        self.rs.sim.set_state_from_flattened(np.asarray(state, dtype=np.float64))
        self.rs.sim.forward()

    # ------------------------------------------------------------------ episodes
    def _turn_layout(self, theta: float) -> None:
        """Turn the sampled placement about the table centre so that the first object's yaw is ``theta``."""
        data = self.rs.sim.data
        poses = [np.asarray(data.get_joint_qpos(j), dtype=np.float64).copy() for j in self._joints]
        yaw0 = Rotation.from_quat(poses[0][[4, 5, 6, 3]]).as_euler("xyz")[2]
        turn = Rotation.from_euler("z", theta - yaw0)
        for joint, qpos in zip(self._joints, poses):
            if self.task.turn_positions:
                qpos[:2] = self._center[:2] + turn.apply(np.r_[qpos[:2] - self._center[:2], 0.0])[:2]
            quat = (turn * Rotation.from_quat(qpos[[4, 5, 6, 3]])).as_quat()  # xyzw
            qpos[3:7] = quat[[3, 0, 1, 2]]
            data.set_joint_qpos(joint, qpos)
        self.rs.sim.forward()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        theta = (options or {}).get("theta", self.next_theta)
        self.next_theta = None
        if seed is not None:
            np.random.seed(seed % 2**32)  # robosuite's placement sampler and initialization noise use numpy's RNG
        self.theta = float(wrap_to_2pi(self.np_random.uniform(0, 2 * math.pi) if theta is None else float(theta)))
        self.rs.reset()
        self._turn_layout(self.theta)
        self.steps = 0
        return self._obs(), self._info()

    def to_robosuite_action(self, action: np.ndarray) -> np.ndarray:
        """The policy's action -> the controller's: 10-D (position, rot6d, gripper) -> 7-D (position, axis-angle,
        gripper); others pass as they are."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != self.action_space.shape or not np.all(np.isfinite(a)):
            raise ValueError(f"action must be finite with shape {self.action_space.shape}, got {a}")
        if len(a) == 10 and self.robosuite_action_dim != 10:
            from equidiff_relaxed.envs.robosuite.abs_actions import absolute_pose_to_osc

            return absolute_pose_to_osc(a)
        return a

    def step(self, action: np.ndarray):
        self.rs.step(self.to_robosuite_action(action))
        self.steps += 1
        success = bool(self.rs._check_success())
        truncated = not success and self.steps >= self.max_steps
        return self._obs(), float(success), success, truncated, self._info()

    def step_without_images(self, action: np.ndarray):
        """:meth:`step` without rendering the cameras: the observation's images are zeros (for steps whose images
        the policy will not look at; rendering is most of an image policy's evaluation time)."""
        self._skip_images = True
        try:
            return self.step(action)
        finally:
            self._skip_images = False

    def _camera_sizes(self, kwargs: dict[str, Any]) -> dict[str, tuple[int, int]]:
        """(height, width) per camera from robosuite's ``camera_heights`` / ``camera_widths`` (one or one each)."""
        def each(value: Any, i: int) -> int:
            return int(value[i] if isinstance(value, (list, tuple)) else value)

        return {cam: (each(kwargs.get("camera_heights", 84), i), each(kwargs.get("camera_widths", 84), i))
                for i, cam in enumerate(self.cameras)}

    def _obs(self) -> dict[str, np.ndarray]:
        """robomimic-keyed observations of the current state, as robomimic extracts them from stored states (low-dim
        observables updated now, not at robosuite's last sensor sample; images rendered now)."""
        from robosuite import macros
        from robosuite.utils.mjcf_utils import IMAGE_CONVENTION_MAPPING

        raw = dict(self.rs._get_observations(force_update=True))
        convention = IMAGE_CONVENTION_MAPPING[macros.IMAGE_CONVENTION]
        for cam, (h, w) in self._image_sizes.items():
            raw[f"{cam}_image"] = (np.zeros((h, w, 3), np.uint8) if self._skip_images else
                                   self.rs.sim.render(camera_name=cam, width=w, height=h, depth=False)[::convention])
        obs: dict[str, np.ndarray] = {}
        for key, value in raw.items():
            if key.endswith("_image"):
                obs[key] = np.ascontiguousarray(np.asarray(value, dtype=np.uint8)[::-1])  # upright, as robomimic
            elif not key.endswith("_depth"):
                obs["object" if key == "object-state" else key] = np.asarray(value, dtype=np.float32).reshape(-1)
        return obs

    def _info(self) -> dict[str, Any]:
        data = self.rs.sim.data
        info: dict[str, Any] = {"theta": self.theta, "region": region_of(self.theta, self.n_regions),
                                "is_success": bool(self.rs._check_success())}
        if self.task.lift_margin is not None:  # the pick failure analysis (reach, grasp, drop, too low, wrist)
            info.update(grip_pos=data.site_xpos[self._grip_site].copy(),
                        object_pos=np.asarray(data.get_joint_qpos(self._joints[0])[:3], dtype=np.float64).copy(),
                        wrist_angle=float(data.qpos[self._wrist_qpos]), wrist_limits=self._wrist_limits.copy(),
                        success_z=float(self._center[2]) + self.task.lift_margin)
        return info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        img = self.rs.sim.render(camera_name=self.render_camera, width=self.render_size, height=self.render_size)
        return np.ascontiguousarray(img[::-1])

    def close(self) -> None:
        self.rs.close()


def recreate_from_dataset(attrs: dict[str, Any]) -> dict[str, Any]:
    """``RobomimicEnv``'s kwargs from the ``env`` attrs a converted robomimic dataset records (and its episode
    length when the file says one: files written by this toolkit record their generator's ``max_steps``)."""
    if not converted_from_robomimic(attrs):
        raise UserError("--env robomimic needs a policy trained on a converted robomimic dataset (its env_args)")
    kwargs = attrs.get("kwargs") or {}
    steps = {"max_steps": int(attrs["max_steps"])} if attrs.get("max_steps") else {}
    if "env_args" in kwargs:
        return {"env_args": kwargs["env_args"], **steps}
    return {"env_args": {"env_name": attrs.get("name"), "type": attrs.get("type", 1), "env_kwargs": kwargs}, **steps}


def converted_from_robomimic(attrs: dict[str, Any]) -> bool:
    """Whether a dataset's ``env`` attrs come from a converted robomimic / MimicGen file (its own env: this one)."""
    return attrs.get("source") == "robomimic"


def policy_kwargs(shape_meta: Any) -> dict[str, Any]:
    """What a policy's fields ask of the env: the action's width (7: delta OSC, 10: absolute pose) and the cameras it
    sees (``<camera>_image`` keys)."""
    return {"action_dim": int(shape_meta.action.shape[0]),
            "cameras": [k[: -len("_image")] for k in shape_meta.rgb_keys if k.endswith("_image")]}


def _register() -> None:
    from equidiff_relaxed.envs.robosuite.pick_failures import PICK_ANALYSIS
    from equidiff_relaxed.envs.registry import EnvSpec, register_env

    register_env(EnvSpec(ROBOMIMIC_ENV, RobomimicEnv, "a robomimic / MimicGen dataset's own robosuite env "
                         f"(from its env_args; regions for {', '.join(ROBOMIMIC_TASKS)})", analysis=PICK_ANALYSIS,
                         recreate=recreate_from_dataset, requires=robosuite_missing, adopts=converted_from_robomimic,
                         policy_kwargs=policy_kwargs))


ROBOMIMIC_ENV = "robomimic"  # the registered name; datasets converted from robomimic files are evaluated in it
_register()
