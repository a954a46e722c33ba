"""robosuite Lift and Stack (Panda, OSC_POSE) as gymnasium envs with a task orientation theta.

Needs the ``[robosuite]`` extra (robosuite 1.5.x, mujoco >=3.3,<3.10). The robot stays where robosuite puts it (base
at x = -0.56 m); only the object layout turns: objects sit on a circle of radius ``radius`` about the table centre
(the symmetry centre, world xy (0, 0)), at angle theta (Stack: cubeA at theta, cubeB at theta + ``spacing``), each
with yaw theta, plus a small seeded jitter. Because the arm does not turn with the layout, its reach and joint
limits break the symmetry in some orientations — that is the point of these tasks.

Observations (robomimic key names, world frame, float32): ``robot0_eef_pos`` (3), ``robot0_eef_quat`` (4, xyzw),
``robot0_gripper_qpos`` (2), ``object`` (Lift 10: cube pos, quat, cube - eef; Stack 23), and optionally camera
images ``<camera>_image`` (H, W, 3) uint8, upright.
Actions, ``action_mode``:
- ``abs`` (default, EquiDiff's 10-D form): target grip-site position (3, world), its orientation as the first two
  columns of the rotation matrix (rot6d, 6), gripper (-1 open .. 1 closed); run by OSC_POSE with absolute world-frame
  input.
- ``delta`` (7-D, robosuite's default form): position delta (3, scaled by 0.05 m), axis-angle delta (3, scaled by
  0.5 rad), gripper; world-frame input.

``reset(seed=..., options={"theta": theta})``; otherwise theta ~ U[0, 2pi) (or ``next_theta`` when set, as vector
envs do). ``info`` has ``theta``, ``region``, ``is_success`` and, for the failure analysis of pick episodes
(:mod:`equidiff_relaxed.envs.robosuite.pick_failures`): ``grip_pos`` (3, world grip site), ``object_pos`` (3, world, the first object), ``wrist_angle``
(Panda joint 7, rad), ``wrist_limits`` (2, its range) and, for Lift, ``success_z`` (the height, world z, the cube must
pass: robosuite's table top + 0.04 m). Reward 1 on success; the episode terminates on success and truncates after
``max_steps``. All randomness (theta, jitter, joint noise) comes from the reset seed.

``lift`` and ``stack`` are registered at the end of this module with their generation options
(:class:`PickOptions`), the pick-and-place expert and the pick failure analysis.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import ClassVar
from typing import Any

from equidiff_relaxed.envs.common import SYMMETRY_CENTER, default_mujoco_gl

default_mujoco_gl()

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from equidiff_relaxed.data.shape_meta import is_eye_in_hand  # noqa: E402
from equidiff_relaxed.envs.perturb import PerturbConfig  # noqa: E402
from equidiff_relaxed.envs.robosuite.pick_failures import PICK_ANALYSIS  # noqa: E402
from equidiff_relaxed.envs.registry import EnvSpec, register_env  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402
from equidiff_relaxed.symmetry.regions import region_of  # noqa: E402
from equidiff_relaxed.symmetry.rotations import rot6d_to_matrix, wrap_to_2pi  # noqa: E402
ACTION_MODES = ("abs", "delta")
LOW_DIM_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object")


@dataclass(frozen=True)
class TaskSpec:
    """A robosuite task: its name, the objects laid out on the circle (in order), and default limits."""

    robosuite_name: str
    objects: tuple[str, ...]
    object_dim: int
    max_steps: int
    object_rep: str
    lift_margin: float | None = None  # success = first object's centre this far above the table top (Lift only)


TASKS: dict[str, TaskSpec] = {
    "lift": TaskSpec("Lift", ("cube",), 10, 160, "pos3+quat+vec2+scalar:1", lift_margin=0.04),
    "stack": TaskSpec("Stack", ("cubeA", "cubeB"), 23, 300,
                      "pos3+quat+pos3+quat+vec2+scalar:1+vec2+scalar:1+vec2+scalar:1"),
}


@dataclass(frozen=True)
class Layout:
    """Where the objects go at theta = 0 (then everything turns by theta about the table centre).

    ``radius`` (m): distance of the objects from the table centre; ``spacing`` (deg): angle between consecutive
    objects on the circle; ``jitter`` (m) and ``yaw_jitter`` (deg): uniform per-episode noise; ``joint_noise``
    (rad): std of the Gaussian noise on the robot's initial joint angles.
    """

    radius: float = 0.15
    spacing: float = 90.0
    jitter: float = 0.01
    yaw_jitter: float = 5.0
    joint_noise: float = 0.02

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def robosuite_available() -> bool:
    try:
        import robosuite  # noqa: F401
    except ImportError:
        return False
    return True


ROBOSUITE_HINT = "pip install 'robosuite>=1.5,<1.6'"  # works from PyPI and from a checkout alike


def import_robosuite() -> Any:
    """robosuite, its logger quietened; one UserError line saying how to install it when it is missing."""
    try:
        import robosuite
    except ImportError:
        raise UserError(f"robosuite is not installed: {ROBOSUITE_HINT}") from None
    from robosuite.utils.log_utils import ROBOSUITE_DEFAULT_LOGGER
    ROBOSUITE_DEFAULT_LOGGER.setLevel("ERROR")
    return robosuite


def make_robosuite(env_name: str, env_kwargs: dict[str, Any], model_seed: int = 0) -> Any:
    """``robosuite.make(env_name, **env_kwargs)`` with numpy's global RNG seeded while the model is built: robosuite
    draws object sizes (Lift's cube) from it, so every process builds the same model and stored states replay."""
    suite = import_robosuite()
    saved = np.random.get_state()
    np.random.seed(model_seed)
    try:
        return suite.make(env_name, **env_kwargs)
    finally:
        np.random.set_state(saved)


def controller_config(action_mode: str) -> dict[str, Any]:
    """robosuite 1.5 composite controller config: OSC_POSE on the Panda arm, world-frame input."""
    from robosuite.controllers import load_composite_controller_config

    cfg = load_composite_controller_config(controller="BASIC", robot="Panda")
    arm = dict(cfg["body_parts"]["right"])
    arm.update(input_type="absolute" if action_mode == "abs" else "delta", input_ref_frame="world")
    cfg["body_parts"] = {"right": arm}
    return cfg


@dataclass
class _Episode:
    theta: float = 0.0
    steps: int = 0


class RobosuiteTaskEnv(gym.Env):
    """See the module docstring. ``task``: lift | stack."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        task: str = "lift",
        action_mode: str = "abs",
        layout: dict[str, float] | None = None,
        max_steps: int | None = None,
        n_regions: int = 8,
        cameras: tuple[str, ...] | list[str] = (),
        image_size: int | None = None,
        render_mode: str | None = None,
        render_size: int = 256,
        render_camera: str = "frontview",
        control_freq: int = 20,
    ):
        if task not in TASKS:
            raise UserError(f"unknown robosuite task {task!r} (known: {', '.join(TASKS)})")
        if action_mode not in ACTION_MODES:
            raise UserError(f"unknown action_mode {action_mode!r} (known: {', '.join(ACTION_MODES)})")
        if image_size is not None and not cameras:
            cameras = ("agentview",)
        self.task, self.spec_ = task, TASKS[task]
        self.action_mode = action_mode
        self.layout = Layout(**(layout or {}))
        self.max_steps = max_steps or self.spec_.max_steps
        self.n_regions = n_regions
        self.cameras = tuple(cameras)
        self.image_size = image_size or (84 if cameras else None)
        self.render_mode, self.render_size, self.render_camera = render_mode, render_size, render_camera
        self.control_freq = control_freq
        import_robosuite()  # one clear error when the extra is missing
        self.robosuite_kwargs = self._robosuite_kwargs()
        self.rs = make_robosuite(self.spec_.robosuite_name, self.robosuite_kwargs)
        self._fast_rendering()
        self.rs.reset()
        self.robot = self.rs.robots[0]
        self._grip_site = self.rs.sim.model.site_name2id(self.robot.gripper["right"].important_sites["grip_site"])
        self._joint_idx = np.asarray(self.robot._ref_joint_pos_indexes)
        self._wrist_limits = np.asarray(self.rs.sim.model.jnt_range[self.robot._ref_joint_indexes[6]], dtype=np.float64)
        self._obj_joints = [self._object(name).joints[0] for name in self.spec_.objects]
        self._obj_half = [float(self._object(name).size[2]) for name in self.spec_.objects]
        spaces: dict[str, gym.Space] = {
            "robot0_eef_pos": gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
            "robot0_eef_quat": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
            "robot0_gripper_qpos": gym.spaces.Box(-np.inf, np.inf, (2,), np.float32),
            "object": gym.spaces.Box(-np.inf, np.inf, (self.spec_.object_dim,), np.float32),
        }
        for cam in self.cameras:
            spaces[f"{cam}_image"] = gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        dim = 10 if action_mode == "abs" else 7
        self.action_space = gym.spaces.Box(-np.inf if action_mode == "abs" else -1.0,
                                           np.inf if action_mode == "abs" else 1.0, (dim,), np.float32)
        self.next_theta: float | None = None
        self.episode = _Episode()

    # ------------------------------------------------------------------ construction
    def _robosuite_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``robosuite.make`` (JSON-able: stored as robomimic ``env_args.env_kwargs``).

        Cameras are rendered by this adapter once per step, after the state update (robosuite's own camera
        observables would render inside its step and again for the fresh observation: twice the cost)."""
        offscreen = bool(self.cameras) or self.render_mode == "rgb_array"
        return {
            "robots": "Panda",
            "controller_configs": controller_config(self.action_mode),
            "has_renderer": False,
            "has_offscreen_renderer": offscreen,
            "use_camera_obs": False,
            "control_freq": self.control_freq,
            "horizon": 100_000,
            "ignore_done": True,
            "hard_reset": False,
            "reward_shaping": False,
            "initialization_noise": None,
        }

    def _fast_rendering(self) -> None:
        """No MSAA and no reflections: 3-4x faster offscreen renders on CPU."""
        model = self.rs.sim.model._model
        model.vis.quality.offsamples = 0
        model.mat_reflectance[:] = 0.0
        context = getattr(self.rs.sim, "_render_context_offscreen", None)
        if context is not None:  # built by robosuite before these settings: rebuild it, with a framebuffer that fits
            sizes = [self.image_size or 0, self.render_size if self.render_mode else 0]
            context.update_offscreen_size(max(sizes), max(sizes))

    def _object(self, name: str) -> Any:
        return getattr(self.rs, name)

    def env_args(self) -> dict[str, Any]:
        """robomimic ``env_args`` (env_name, type 1 = robosuite, env_kwargs) plus this adapter's own settings."""
        return {"env_name": self.spec_.robosuite_name, "type": 1, "env_kwargs": self.robosuite_kwargs,
                "equidiff_relaxed": {"env": self.task, "action_mode": self.action_mode,
                                     "layout": self.layout.to_dict(), "max_steps": self.max_steps,
                                     "symmetry": {"center": list(SYMMETRY_CENTER)}}}

    def shape_meta_dict(self) -> dict[str, Any]:
        """shape_meta (plain dict): eef position pos3, orientation quat, gripper scalar, object per task; camera
        images: agentview rep 'camera' (a perspective view that does not turn with the layout, so models take it as an
        invariant, symmetry-breaking input), eye-in-hand rep 'camera_inhand' (it turns with the gripper: invariant)."""
        obs: dict[str, Any] = {
            "robot0_eef_pos": {"shape": [3], "type": "low_dim", "rep": "pos3"},
            "robot0_eef_quat": {"shape": [4], "type": "low_dim", "rep": "quat"},
            "robot0_gripper_qpos": {"shape": [2], "type": "low_dim", "rep": "scalar"},
            "object": {"shape": [self.spec_.object_dim], "type": "low_dim", "rep": self.spec_.object_rep},
        }
        for cam in self.cameras:
            rep = "camera_inhand" if is_eye_in_hand(cam) else "camera"
            obs[f"{cam}_image"] = {"shape": [3, self.image_size, self.image_size], "type": "rgb", "rep": rep}
        if self.action_mode == "abs":
            action = {"shape": [10], "rep": "pos3+rot6d+scalar"}
        else:
            action = {"shape": [7], "rep": "vec2+scalar:1+vec2+scalar:1+scalar:1"}
        # the cause of the break: the arm does not turn with the layout; its base is fixed in the world
        base = self.rs.sim.data.body_xpos[self.rs.sim.model.body_name2id(self.robot.robot_model.root_body)]
        breaking = {"robot_base": {"shape": [2], "rep": "pos2", "value": [float(base[0]), float(base[1])]}}
        return {"obs": obs, "action": action, "breaking": breaking}

    def dataset_attrs(self) -> dict[str, Any]:
        """Root attrs a dataset of this env records: ``env``, robomimic ``env_args`` and ``symmetry``."""
        kwargs = {"action_mode": self.action_mode, "layout": self.layout.to_dict(), "max_steps": self.max_steps,
                  "cameras": list(self.cameras), "image_size": self.image_size}
        return {"env": {"name": self.task, "kwargs": kwargs, "source": "robosuite"}, "env_args": self.env_args(),
                "symmetry": {"center": list(SYMMETRY_CENTER), "group": "SO(2)"}}

    # ------------------------------------------------------------------ state
    def get_state(self) -> np.ndarray:
        """robosuite's flattened MuJoCo state (time, qpos, qvel), float64 — the robomimic ``states`` format."""
        return np.asarray(self.rs.sim.get_state().flatten(), dtype=np.float64)

    def set_state(self, state: np.ndarray) -> None:
        self.rs.sim.set_state_from_flattened(np.asarray(state, dtype=np.float64))
        self.rs.sim.forward()

    def wrist_angle(self, state: np.ndarray) -> float:
        """The wrist joint's angle (Panda joint 7, limits +-2.897 rad) in a state of :meth:`get_state`."""
        return float(state[1 + self._joint_idx[6]])  # flattened state: time, qpos, qvel

    def object_poses(self) -> np.ndarray:
        """(n_objects, 7) world position and xyzw quaternion of each laid-out object."""
        poses = []
        for joint in self._obj_joints:
            q = np.asarray(self.rs.sim.data.get_joint_qpos(joint), dtype=np.float64)
            poses.append(np.concatenate([q[:3], q[[4, 5, 6, 3]]]))
        return np.stack(poses)

    def grip_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World position (3,) and rotation matrix (3, 3) of the grip site (the frame OSC_POSE controls)."""
        data = self.rs.sim.data
        return data.site_xpos[self._grip_site].copy(), data.site_xmat[self._grip_site].reshape(3, 3).copy()

    # ------------------------------------------------------------------ layout
    def layout_poses(self, theta: float, rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
        """(xy, yaw) of each object for orientation theta: canonical circle layout turned by theta, jittered."""
        lay = self.layout
        out = []
        for i, _ in enumerate(self.spec_.objects):
            angle = theta + math.radians(lay.spacing) * i
            xy = np.array(SYMMETRY_CENTER) + lay.radius * np.array([math.cos(angle), math.sin(angle)])
            xy = xy + rng.uniform(-lay.jitter, lay.jitter, size=2)
            yaw = theta + math.radians(rng.uniform(-lay.yaw_jitter, lay.yaw_jitter))
            out.append((xy, yaw))
        return out

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        theta = options.get("theta", self.next_theta)
        self.next_theta = None
        rng = self.np_random
        theta = float(wrap_to_2pi(rng.uniform(0, 2 * math.pi) if theta is None else float(theta)))
        self.rs.reset()
        sim = self.rs.sim
        init = np.asarray(self.robot.init_qpos, dtype=np.float64)
        sim.data.qpos[self._joint_idx] = init + rng.normal(0.0, self.layout.joint_noise, size=init.shape)
        table_z = float(self.rs.table_offset[2])
        for (xy, yaw), joint, half in zip(self.layout_poses(theta, rng), self._obj_joints, self._obj_half):
            wxyz = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
            sim.data.set_joint_qpos(joint, np.concatenate([xy, [table_z + half], wxyz]))
        sim.data.qvel[:] = 0.0
        sim.forward()
        self.robot.part_controllers["right"].reset_goal()
        self.episode = _Episode(theta=theta)
        return self._obs(), self._info()

    # ------------------------------------------------------------------ stepping
    def to_robosuite_action(self, action: np.ndarray) -> np.ndarray:
        """This env's action -> robosuite's 7-D OSC_POSE action (abs: position, rotation vector, gripper)."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action must be finite, got {a}")
        if self.action_mode == "delta":
            return np.clip(a, -1.0, 1.0)
        rotvec = Rotation.from_matrix(rot6d_to_matrix(a[3:9])).as_rotvec()
        return np.concatenate([a[:3], rotvec, [np.clip(a[9], -1.0, 1.0)]])

    def step(self, action: np.ndarray):
        self.rs.step(self.to_robosuite_action(action))
        # MuJoCo's positions lag the integrated state by one substep after mj_step: recompute them, so that the
        # observation is exactly that of the stored state (robomimic replays states through forward()).
        self.rs.sim.forward()
        self.episode.steps += 1
        success = self.is_success()
        truncated = not success and self.episode.steps >= self.max_steps
        return self._obs(), float(success), success, truncated, self._info()

    def is_success(self) -> bool:
        return bool(self.rs._check_success())

    def _obs(self) -> dict[str, np.ndarray]:
        raw = self.rs._get_observations(force_update=True)
        obs = {
            "robot0_eef_pos": raw["robot0_eef_pos"],
            "robot0_eef_quat": raw["robot0_eef_quat"],
            "robot0_gripper_qpos": raw["robot0_gripper_qpos"],
            "object": raw["object-state"],
        }
        obs = {k: np.asarray(v, dtype=np.float32) for k, v in obs.items()}
        for cam in self.cameras:
            obs[f"{cam}_image"] = self._render_camera(cam, self.image_size)
        return obs

    def _info(self) -> dict[str, Any]:
        theta = self.episode.theta
        info = {"theta": theta, "region": region_of(theta, self.n_regions), "is_success": self.is_success(),
                "grip_pos": self.grip_pose()[0], "object_pos": self.object_poses()[0, :3],
                "wrist_angle": float(self.rs.sim.data.qpos[self._joint_idx[6]]),
                "wrist_limits": self._wrist_limits.copy()}
        if self.spec_.lift_margin is not None:
            info["success_z"] = float(self.rs.table_offset[2]) + self.spec_.lift_margin
        return info

    @property
    def theta(self) -> float:
        return self.episode.theta

    # ------------------------------------------------------------------ rendering
    def _render_camera(self, camera: str, size: int) -> np.ndarray:
        img = self.rs.sim.render(camera_name=camera, width=size, height=size)
        return np.ascontiguousarray(img[::-1])  # OpenGL rows run bottom-up: flip to upright

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self._render_camera(self.render_camera, self.render_size)

    def close(self) -> None:
        self.rs.close()


@dataclass(frozen=True)
class PickOptions:
    """Demo generation options of the robosuite tasks.

    Args:
        action_mode: robosuite tasks: abs (10-D pose) or delta (7-D OSC delta).
        radius: robosuite tasks: object circle radius in m (default 0.15).
        grasp_symmetry: robosuite tasks: the object symmetry in degrees the expert's grasp yaw uses (default 90, a
            cube; 360: the wrist follows theta and its joint limit breaks the symmetry).
        jitter: robosuite tasks: uniform noise on each object's xy in m (default 0.01; 0.03 is standard Lift's).
        eye_in_hand: robosuite tasks: with --image also record the eye-in-hand camera (robot0_eye_in_hand_image).
    """

    IMAGE_MULTIPLE: ClassVar[int] = 4  # robosuite's cameras are 84 px in robomimic files

    action_mode: str = "abs"
    radius: float | None = None
    grasp_symmetry: float | None = None
    jitter: float | None = None
    eye_in_hand: bool = False

    def validate(self) -> None:
        if self.action_mode not in ACTION_MODES:
            raise UserError(f"unknown --action_mode {self.action_mode!r} (known: {', '.join(ACTION_MODES)})")
        if self.radius is not None and not 0.0 <= self.radius <= 0.35:
            raise UserError(f"--radius must be in [0, 0.35] m (the table is 0.8 m wide), got {self.radius}")
        if self.grasp_symmetry is not None and not 0 < self.grasp_symmetry <= 360:
            raise UserError(f"--grasp_symmetry must be in (0, 360] degrees, got {self.grasp_symmetry}")
        if self.jitter is not None and not 0.0 <= self.jitter <= 0.1:
            raise UserError(f"--jitter must be in [0, 0.1] m, got {self.jitter}")

    def env_kwargs(self, image_size: int | None, max_steps: int | None) -> dict[str, Any]:
        layout = {k: v for k, v in (("radius", self.radius), ("jitter", self.jitter)) if v is not None}
        kwargs: dict[str, Any] = {"action_mode": self.action_mode, "max_steps": max_steps, "layout": layout or None}
        if image_size:
            cameras = ("agentview", "robot0_eye_in_hand") if self.eye_in_hand else ("agentview",)
            kwargs.update(cameras=cameras, image_size=image_size)
        elif self.eye_in_hand:
            raise UserError("--eye_in_hand needs --image (it adds a second camera)")
        return kwargs

    def expert_kwargs(self) -> dict[str, Any]:
        return {"symmetry_deg": self.grasp_symmetry} if self.grasp_symmetry is not None else {}

    def perturb(self) -> PerturbConfig:
        return PerturbConfig()


def make_pick_expert(env: RobosuiteTaskEnv, noise_std: float = 0.0, **kwargs: Any) -> Any:
    """The pick-and-place expert (``kwargs``: :class:`~equidiff_relaxed.envs.robosuite.expert.PickExpertConfig`)."""
    from equidiff_relaxed.envs.robosuite.expert import PickExpertConfig, PickPlaceExpert

    return PickPlaceExpert(env, PickExpertConfig(noise_std=noise_std, **kwargs))


def robosuite_missing() -> str | None:
    """The env registry's ``requires``: None when robosuite imports, else how to install it."""
    return None if robosuite_available() else f"robosuite: {ROBOSUITE_HINT}"


for _task, _spec in TASKS.items():
    register_env(EnvSpec(_task, functools.partial(RobosuiteTaskEnv, _task), f"robosuite {_spec.robosuite_name} "
                         "(Panda), the object layout turned by theta", make_expert=make_pick_expert,
                         options=PickOptions, expert_noise=0.005, analysis=PICK_ANALYSIS,
                         requires=robosuite_missing))
