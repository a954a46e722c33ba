"""Planar push on MuJoCo as a gymnasium env, with a task orientation theta that rotates the whole layout.

Action: absolute target xy (world metres) of the pusher, clipped to the workspace disc; 10 Hz control, the pusher
follows through an isotropic position servo whose set-point stays within ``max_servo_offset`` (8 cm) of the pusher,
which bounds its force (40 N) and speed. Observation (dict): ``pusher_pos``, ``puck_pos``, ``goal_pos`` (2,)
float32 world xy, and with ``image_size`` an ``image`` (H, W, 3) uint8 top-down view centred on the table centre
(+x right, +y up). The pillar of ``push-pillar`` is never in the low-dim observation.

Each episode draws its layout in a canonical frame (puck on the +x axis, goal further out, pusher near the centre,
all jittered) and rotates it about the centre by theta: ``reset(seed=..., options={"theta": theta})``, otherwise
theta ~ U[0, 2pi). ``info`` has ``theta``, ``region`` (of ``n_regions`` equal sectors) and ``is_success``, and for
failure analysis (:mod:`equidiff_relaxed.envs.push_failures`) the world xy ``pusher_pos``, ``puck_pos``, ``goal_pos`` (float64)
and the sizes ``puck_radius``, ``pusher_radius``, ``success_tolerance`` (metres); ``push-pillar`` adds ``pillar_pos``
and ``pillar_radius``, ``push-wall`` ``wall_ends`` ((2, 2), or (W, 2, 2) with several walls) and
``wall_half_thickness``.
Reward = 1 on success, else 0; the episode terminates on success and truncates after ``max_steps``.

The four variants (``push``, ``push-pillar``, ``push-drift``, ``push-wall``) are registered at the end of this module with their
generation options (:class:`PushOptions`: DART), the scripted expert and the push failure analysis.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.envs.common import SYMMETRY_CENTER, default_mujoco_gl

default_mujoco_gl()

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from equidiff_relaxed.envs.perturb import PerturbConfig  # noqa: E402
from equidiff_relaxed.envs.push_expert import ExpertConfig, PushExpert  # noqa: E402
from equidiff_relaxed.envs.push_failures import PUSH_ANALYSIS, WALL_ANALYSIS  # noqa: E402
from equidiff_relaxed.envs.push_scene import VARIANTS, PushGeometry, build_mjcf  # noqa: E402
from equidiff_relaxed.envs.registry import EnvSpec, register_env  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402
from equidiff_relaxed.symmetry.actions import transform_field  # noqa: E402
from equidiff_relaxed.symmetry.regions import region_of  # noqa: E402
from equidiff_relaxed.symmetry.rotations import rotate_xy, wrap_to_2pi  # noqa: E402


def push_shape_meta_dict(image_size: int | None = None) -> dict[str, Any]:
    """shape_meta (plain dict) of the push envs: every position pos2, the optional top-down image turns."""
    obs: dict[str, Any] = {k: {"shape": [2], "type": "low_dim", "rep": "pos2"}
                           for k in ("pusher_pos", "puck_pos", "goal_pos")}
    if image_size:
        obs["image"] = {"shape": [3, image_size, image_size], "type": "rgb", "rep": "image"}
    return {"obs": obs, "action": {"shape": [2], "rep": "pos2"}}


class PlanarPushEnv(gym.Env):
    """See the module docstring. ``variant``: push | push-pillar | push-drift | push-wall."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        variant: str = "push",
        image_size: int | None = None,
        max_steps: int = 80,
        n_regions: int = 8,
        render_mode: str | None = None,
        render_size: int = 256,
        geometry: dict[str, Any] | None = None,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r} (known: {', '.join(VARIANTS)})")
        if image_size is not None and (image_size < 8 or image_size % 8):
            raise ValueError(f"image_size must be a multiple of 8 (even through pooling), got {image_size}")
        self.variant = VARIANTS[variant]
        self.geom = PushGeometry(**(geometry or {}))
        self.image_size = image_size
        self.max_steps = max_steps
        self.n_regions = n_regions
        self.render_mode = render_mode
        self.render_size = render_size
        self.model = mujoco.MjModel.from_xml_string(
            build_mjcf(self.geom, self.variant, max(image_size or 0, render_size if render_mode else 0) or None))
        self.data = mujoco.MjData(self.model)
        self._puck_qpos = self.model.jnt_qposadr[self.model.joint("puck").id]
        self._puck_qvel = self.model.jnt_dofadr[self.model.joint("puck").id]
        self._puck_body = self.model.body("puck").id
        self._goal_mocap = self.model.body_mocapid[self.model.body("goal_marker").id]
        self._renderers: dict[int, mujoco.Renderer] = {}
        r = self.geom.workspace_radius
        pos_space = gym.spaces.Box(-r, r, shape=(2,), dtype=np.float32)
        spaces: dict[str, gym.Space] = {"pusher_pos": pos_space, "puck_pos": pos_space, "goal_pos": pos_space}
        if image_size:
            spaces["image"] = gym.spaces.Box(0, 255, shape=(image_size, image_size, 3), dtype=np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-r, r, shape=(2,), dtype=np.float32)
        self.theta = 0.0
        self.next_theta: float | None = None  # theta for the next reset without options (vector envs: set_attr)
        self.goal = np.zeros(2)
        self._steps = 0

    # ------------------------------------------------------------------ dataset description
    def shape_meta_dict(self) -> dict[str, Any]:
        """shape_meta (plain dict) of this env's observations and actions; push-wall also declares its wall as the
        cause of the symmetry break (``breaking.wall``: centre pos2 + half-extent vec2, fixed in the world), at every
        strength: at strength 0 a zero-length wall, so a policy fed the cause sees the same inputs at every strength."""
        meta = push_shape_meta_dict(self.image_size)
        g = self.geom
        if self.variant.wall:
            meta["breaking"] = {}
            for i, ((ax, ay), (bx, by)) in enumerate(g.walls_ends):
                meta["breaking"][g.wall_name(i)] = {
                    "shape": [4], "rep": "pos2+vec2",
                    "value": [(ax + bx) / 2, (ay + by) / 2, (bx - ax) / 2, (by - ay) / 2]}
        return meta

    def dataset_attrs(self) -> dict[str, Any]:
        """Root attrs a dataset of this env records: ``env`` (enough to recreate it) and ``symmetry``."""
        name = self.variant.name
        return {"env": {"name": name, "variant": name,
                        "kwargs": {"image_size": self.image_size, "max_steps": self.max_steps},
                        "geometry": self.geom.to_dict()},
                "symmetry": {"center": list(SYMMETRY_CENTER), "group": "SO(2)",
                             "reflection_axis": self.reflection_axis}}

    @property
    def reflection_axis(self) -> float:
        """An axis through the centre (radians) across which the whole task is mirror-symmetric: any for ``push``
        (0 is declared), the ray through the pillar for ``push-pillar``, the drift direction for ``push-drift``.
        Recorded in the dataset's ``symmetry`` attrs; D_N policies reflect across it."""
        if self.variant.pillar:
            return float(self.geom.pillar_angle)
        if self.variant.wall:
            return float(self.geom.wall_angle)
        if self.variant.drift:
            return float(math.atan2(self.geom.drift_force[1], self.geom.drift_force[0]))
        return 0.0

    # ------------------------------------------------------------------ state
    @property
    def pusher_pos(self) -> np.ndarray:
        return self.data.qpos[0:2].copy()

    @property
    def puck_pos(self) -> np.ndarray:
        return self.data.qpos[self._puck_qpos : self._puck_qpos + 2].copy()

    def get_state(self) -> np.ndarray:
        """Full simulator state (qpos, qvel, goal xy), float64 — enough to restore an episode exactly."""
        return np.concatenate([self.data.qpos, self.data.qvel, self.goal])

    def set_state(self, state: np.ndarray) -> None:
        nq, nv = self.model.nq, self.model.nv
        self.data.qpos[:] = state[:nq]
        self.data.qvel[:] = state[nq : nq + nv]
        self._set_goal(state[nq + nv : nq + nv + 2])
        self.data.ctrl[:] = self.data.qpos[0:2]
        mujoco.mj_forward(self.model, self.data)

    def transform_state(self, state: np.ndarray, phi: float, reflect: bool = False,
                        axis: float | None = None) -> np.ndarray:
        """The state of :meth:`get_state` under the group element "reflect across the line at angle ``axis`` through
        the symmetry centre (if ``reflect``; default axis: :attr:`reflection_axis`), then rotate by ``phi``".

        Pusher xy and the goal are pos2; the puck position pos3 and orientation a quaternion (MuJoCo's w-first order);
        linear velocities act on their xy (vec2) and keep z. The free joint's angular velocity is expressed in the
        puck's own frame, which turns with the puck: unchanged by rotations; a reflection mirrors the body frame
        (R -> S R diag(1, -1, 1), as the quat representation does), which maps it to (-wx, wy, -wz).
        """
        axis = self.reflection_axis if axis is None else float(axis)
        nq, nv = self.model.nq, self.model.nv
        q, v = self._puck_qpos, self._puck_qvel

        def act(x: np.ndarray, rep: str, center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
            return transform_field(x, rep, phi, reflect, center, axis)

        out = np.array(state, dtype=np.float64, copy=True)
        out[0:2] = act(state[0:2], "pos2", SYMMETRY_CENTER)
        out[q : q + 3] = act(state[q : q + 3], "pos3", SYMMETRY_CENTER)
        wxyz = state[q + 3 : q + 7]
        out[q + 3 : q + 7] = np.roll(act(np.roll(wxyz, -1), "quat"), 1)
        vel = state[nq : nq + nv]
        out[nq : nq + 2] = act(vel[0:2], "vec2")
        out[nq + v : nq + v + 3] = act(vel[v : v + 3], "vec2+scalar:1")
        if reflect:
            out[nq + v + 3 : nq + v + 6] = vel[v + 3 : v + 6] * np.array([-1.0, 1.0, -1.0])
        out[nq + nv : nq + nv + 2] = act(state[nq + nv : nq + nv + 2], "pos2", SYMMETRY_CENTER)
        return out

    def rotate_state(self, state: np.ndarray, phi: float) -> np.ndarray:
        """The state of :meth:`get_state` rotated by ``phi`` about the symmetry centre (see :meth:`transform_state`)."""
        return self.transform_state(state, phi)

    def _set_goal(self, goal: np.ndarray) -> None:
        self.goal = np.asarray(goal, dtype=np.float64).copy()
        self.data.mocap_pos[self._goal_mocap, :2] = self.goal

    # ------------------------------------------------------------------ layout
    def canonical_layout(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Layout at theta = 0: puck on the +x axis, goal further out, pusher near the centre (jittered)."""
        g, j = self.geom, self.geom.layout_jitter
        return {
            "puck": np.array([g.puck_start_radius, 0.0]) + rng.uniform(-j, j, size=2),
            "goal": np.array([g.goal_radius, 0.0]) + rng.uniform(-j, j, size=2),
            "pusher": np.array([-0.01, 0.0]) + rng.uniform(-j, j, size=2),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        theta = options.get("theta", self.next_theta)
        self.next_theta = None
        self.theta = float(wrap_to_2pi(self.np_random.uniform(0, 2 * math.pi) if theta is None else float(theta)))
        layout = self.canonical_layout(self.np_random)
        mujoco.mj_resetData(self.model, self.data)
        pusher = rotate_xy(layout["pusher"], self.theta, SYMMETRY_CENTER)
        puck = rotate_xy(layout["puck"], self.theta, SYMMETRY_CENTER)
        self.data.qpos[0:2] = pusher
        self.data.ctrl[:] = pusher
        q = self._puck_qpos
        self.data.qpos[q : q + 3] = [puck[0], puck[1], self.geom.puck_height / 2]
        self.data.qpos[q + 3 : q + 7] = [1.0, 0.0, 0.0, 0.0]  # MuJoCo quaternions are (w, x, y, z)
        self._set_goal(rotate_xy(layout["goal"], self.theta, SYMMETRY_CENTER))
        if self.variant.drift:
            self.data.xfrc_applied[self._puck_body, :2] = self.geom.drift_force
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        return self._obs(), self._info()

    # ------------------------------------------------------------------ stepping
    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Clip a target to the workspace disc (radially, so clipping commutes with rotations)."""
        a = np.asarray(action, dtype=np.float64).reshape(2)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action must be finite, got {a}")
        norm = float(np.hypot(*a))
        r = self.geom.workspace_radius
        return a * (r / norm) if norm > r else a

    def step(self, action: np.ndarray):
        target = self.clip_action(action)
        # Force/speed limit: the set-point stays within max_servo_offset of the pusher (isotropic, so equivariant).
        for _ in range(self.geom.substeps):
            offset = target - self.data.qpos[0:2]
            dist = float(np.hypot(*offset))
            limit = self.geom.max_servo_offset
            self.data.ctrl[:] = target if dist <= limit else self.data.qpos[0:2] + offset * (limit / dist)
            mujoco.mj_step(self.model, self.data)
        self._steps += 1
        success = self.is_success()
        reward = 1.0 if success else 0.0
        truncated = not success and self._steps >= self.max_steps
        return self._obs(), reward, success, truncated, self._info()

    def is_success(self) -> bool:
        return bool(np.linalg.norm(self.puck_pos - self.goal) < self.geom.success_tolerance)

    def _obs(self) -> dict[str, np.ndarray]:
        obs = {
            "pusher_pos": self.pusher_pos.astype(np.float32),
            "puck_pos": self.puck_pos.astype(np.float32),
            "goal_pos": self.goal.astype(np.float32),
        }
        if self.image_size:
            obs["image"] = self._render(self.image_size)
        return obs

    def _info(self) -> dict[str, Any]:
        g = self.geom
        info: dict[str, Any] = {
            "theta": self.theta, "region": region_of(self.theta, self.n_regions),
            "is_success": self.is_success(),
            "pusher_pos": self.pusher_pos, "puck_pos": self.puck_pos, "goal_pos": self.goal.copy(),
            "puck_radius": g.puck_radius, "pusher_radius": g.pusher_radius, "success_tolerance": g.success_tolerance,
        }
        if self.variant.pillar:
            info["pillar_pos"] = np.array(g.pillar_pos, dtype=np.float64)
            info["pillar_radius"] = g.pillar_radius
        if self.variant.wall and g.wall_half_length > 0:
            info["wall_ends"] = np.array(g.walls_ends if g.extra_wall_angles else g.wall_ends, dtype=np.float64)
            info["wall_half_thickness"] = g.wall_half_thickness
        return info

    # ------------------------------------------------------------------ rendering
    def _render(self, size: int) -> np.ndarray:
        renderer = self._renderers.get(size)
        if renderer is None:  # created lazily, so each process (vector-env worker) makes its own GL context
            renderer = self._renderers[size] = mujoco.Renderer(self.model, size, size)
        renderer.update_scene(self.data, camera="top")
        return renderer.render().copy()

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self._render(self.render_size)
        return None

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()


@dataclass(frozen=True)
class PushOptions:
    """Demo generation options of the push tasks.

    Args:
        dart_noise: push tasks: Gaussian std (m) added to the EXECUTED action; the recorded label stays clean.
        burst_prob: push tasks: per-step probability of a perturbation burst (0: no bursts).
        burst_steps: push tasks: steps per burst.
        burst_scale: push tasks: burst offset in metres.
        expert_plan_once: push tasks: the older expert that plans its path once per episode (hidden state; for
            ablations).
    """

    dart_noise: float = 0.01
    burst_prob: float = 0.1
    burst_steps: int = 3
    burst_scale: float = 0.03
    expert_plan_once: bool = False

    def validate(self) -> None:
        self.perturb().validate()

    def env_kwargs(self, image_size: int | None, max_steps: int | None) -> dict[str, Any]:
        return {"image_size": image_size, "max_steps": max_steps or 80}

    def expert_kwargs(self) -> dict[str, Any]:
        return {"memoryless": not self.expert_plan_once}

    def perturb(self) -> PerturbConfig:
        return PerturbConfig(self.dart_noise, self.burst_prob, self.burst_steps, self.burst_scale)


@dataclass(frozen=True)
class WallOptions(PushOptions):
    """Demo generation options of push-wall: the push tasks' and the wall's.

    Args:
        wall_strength: push-wall: the wall's length as a fraction of its full 24 cm (0: no wall, the symmetric push
            task; 1: every straight push of region 2 and of the nearer halves of regions 1 and 3 is blocked).
        wall_angle: push-wall: the direction (degrees) of the ray from the centre that the wall stands across
            (default 112.5: the middle of region 2 of 8).
        walls: push-wall: several walls, one across each of these rays (degrees), at least 90 apart, e.g. 22.5 202.5
            for walls in regions 0 and 4 (replaces --wall_angle).
        wall_distance: push-wall: the walls' distance from the centre in metres (default 0.19: between the puck's
            start and its goal).
    """

    wall_strength: float = 1.0
    wall_angle: float | None = None
    walls: list[float] | None = None
    wall_distance: float | None = None

    def validate(self) -> None:
        super().validate()
        if not (isinstance(self.wall_strength, (int, float)) and math.isfinite(self.wall_strength)
                and 0.0 <= self.wall_strength <= 1.0):
            raise UserError(f"--wall_strength must be a number in [0, 1], got {self.wall_strength!r}")
        if self.wall_angle is not None and self.walls:
            raise UserError("give --wall_angle (one wall) or --walls (several), not both")
        for angle in [self.wall_angle] if self.wall_angle is not None else list(self.walls or []):
            if not (isinstance(angle, (int, float)) and math.isfinite(angle)):
                raise UserError(f"--wall_angle / --walls take finite angles in degrees, got {angle!r}")
        angles = [float(a) % 360 for a in self.walls or []]
        for i, a in enumerate(angles):
            for b in angles[i + 1:]:
                if min(abs(a - b), 360 - abs(a - b)) < 90:
                    raise UserError(f"--walls {a:g} and {b:g} are less than 90 degrees apart: each would block the "
                                    "other's detour")
        if self.wall_distance is not None and not (isinstance(self.wall_distance, (int, float))
                                                   and math.isfinite(self.wall_distance)):
            raise UserError(f"--wall_distance must be a finite distance in metres, got {self.wall_distance!r}")
        geom = PushGeometry(**self._geometry())
        if geom.wall_half_length > 0:
            reach = geom.wall_half_thickness + geom.puck_radius + geom.layout_jitter
            inner = geom.puck_start_radius + reach
            outer = geom.goal_radius - reach - geom.success_tolerance
            if not inner < geom.wall_distance < outer:
                raise UserError(f"--wall_distance {geom.wall_distance:g} puts a wall over the puck's start circle or its "
                                f"goal: it must lie between {inner:.3f} and {outer:.3f} m")

    def _geometry(self) -> dict[str, Any]:
        """The scene geometry these options set (only what was given, so default datasets record what they did)."""
        geometry: dict[str, Any] = {"wall_strength": float(self.wall_strength)}
        if self.wall_angle is not None:
            geometry["wall_angle"] = math.radians(float(self.wall_angle))
        if self.walls:
            geometry["wall_angle"] = math.radians(float(self.walls[0]))
            geometry["extra_wall_angles"] = tuple(math.radians(float(a)) for a in self.walls[1:])
        if self.wall_distance is not None:
            geometry["wall_distance"] = float(self.wall_distance)
        return geometry

    def env_kwargs(self, image_size: int | None, max_steps: int | None) -> dict[str, Any]:
        return {**super().env_kwargs(image_size, max_steps), "geometry": self._geometry()}


def make_push_expert(env: PlanarPushEnv, noise_std: float = 0.0, **kwargs: Any) -> PushExpert:
    """The push expert for ``env`` (``kwargs``: :class:`~equidiff_relaxed.envs.push_expert.ExpertConfig` fields)."""
    return PushExpert(env.geom, env.variant, ExpertConfig(noise_std=noise_std, **kwargs))


def push_kwargs(attrs: dict[str, Any]) -> dict[str, Any]:
    """``make`` kwargs from a push dataset's ``env`` attrs: the recorded kwargs and scene geometry."""
    kwargs = dict(attrs.get("kwargs") or {})
    if attrs.get("geometry"):  # JSON lists back to the dataclass's tuples
        kwargs["geometry"] = {k: tuple(v) if isinstance(v, list) else v for k, v in attrs["geometry"].items()}
    return kwargs


for _variant in VARIANTS.values():
    register_env(EnvSpec(_variant.name, functools.partial(PlanarPushEnv, _variant.name), _variant.description,
                         make_expert=make_push_expert, options=WallOptions if _variant.wall else PushOptions,
                         expert_noise=0.0, analysis=WALL_ANALYSIS if _variant.wall else PUSH_ANALYSIS,
                         recreate=push_kwargs))
