"""A plug-in as a user would write one: a new env (with its expert, failure analysis and a registration), a new
model family and a new metric, each registered in one call. The tests load it through ``EQUIDIFF_PLUGINS``.

The env: a point in the plane steered to a goal. theta turns the goal about the origin; the action is the point's
next target position (pos2), clipped to 5 cm per step.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from equidiff_relaxed.envs.outcomes import EpisodeMetrics, FailureAnalysis, Trace
from equidiff_relaxed.envs.registry import EnvSpec, register_env
from equidiff_relaxed.eval.metrics import register_metric
from equidiff_relaxed.policy.families import Family, register
from equidiff_relaxed.symmetry.regions import region_of

STEP = 0.05
TOLERANCE = 0.03


class ToyReachEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, n_regions: int = 8, max_steps: int = 12, image_size: int | None = None,
                 render_mode: str | None = None):
        self.n_regions, self.max_steps = n_regions, max_steps
        self.next_theta: float | None = None
        box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Dict({"point_pos": box, "goal_pos": box})
        self.action_space = box
        self.point, self.goal, self.theta, self.steps = np.zeros(2), np.zeros(2), 0.0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        theta = (options or {}).get("theta", self.next_theta)
        self.theta = float(self.np_random.uniform(0, 2 * math.pi) if theta is None else theta)
        self.goal = 0.3 * np.array([math.cos(self.theta), math.sin(self.theta)])
        self.point, self.steps = self.np_random.uniform(-0.02, 0.02, 2), 0
        return self._obs(), self._info()

    def step(self, action):
        move = np.asarray(action, dtype=np.float64) - self.point
        norm = float(np.linalg.norm(move))
        self.point = self.point + (move if norm <= STEP else move * STEP / norm)
        self.steps += 1
        success = bool(np.linalg.norm(self.point - self.goal) < TOLERANCE)
        return self._obs(), float(success), success, self.steps >= self.max_steps, self._info()

    def _obs(self) -> dict[str, np.ndarray]:
        return {"point_pos": self.point.astype(np.float32), "goal_pos": self.goal.astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        return {"theta": self.theta, "region": region_of(self.theta, self.n_regions),
                "is_success": bool(np.linalg.norm(self.point - self.goal) < TOLERANCE),
                "point_pos": self.point.copy(), "goal_pos": self.goal.copy()}

    def shape_meta_dict(self) -> dict[str, Any]:
        obs = {k: {"shape": [2], "type": "low_dim", "rep": "pos2"} for k in ("point_pos", "goal_pos")}
        return {"obs": obs, "action": {"shape": [2], "rep": "pos2"}}

    def dataset_attrs(self) -> dict[str, Any]:
        return {"env": {"name": "toy-reach", "kwargs": {"max_steps": self.max_steps}},
                "symmetry": {"center": [0.0, 0.0], "group": "SO(2)", "reflection_axis": 0.0}}

    def get_state(self) -> np.ndarray:
        return np.concatenate([self.point, self.goal, [self.theta, self.steps]])

    def set_state(self, state: np.ndarray) -> None:
        self.point, self.goal = state[:2].copy(), state[2:4].copy()
        self.theta, self.steps = float(state[4]), int(state[5])


class ToyExpert:
    def __init__(self, env: ToyReachEnv, noise_std: float = 0.0):
        self.noise_std, self.rng = noise_std, np.random.default_rng(0)

    def reset(self, rng: np.random.Generator | None = None) -> None:
        self.rng = rng or np.random.default_rng(0)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return obs["goal_pos"] + self.rng.normal(scale=self.noise_std, size=2) if self.noise_std else obs["goal_pos"]


@dataclass(frozen=True)
class ToyScene:
    def analyse(self, trace: Trace, success: bool) -> EpisodeMetrics:
        gap = np.linalg.norm(trace["point_pos"] - trace["goal_pos"], axis=1)
        return EpisodeMetrics(float(gap[-1]), float(gap.min()), failure=None if success else "stopped_short")


TOY_ANALYSIS = FailureAnalysis(categories=(("stopped_short", "short"),), trace_keys=("point_pos", "goal_pos"),
                               scene=lambda info: ToyScene() if "goal_pos" in info else None)

register_env(EnvSpec("toy-reach", functools.partial(ToyReachEnv), "a point steered to a goal",
                     make_expert=lambda env, noise_std=0.0, **kw: ToyExpert(env, noise_std), analysis=TOY_ANALYSIS))
register(Family("toy_relaxed", "relaxed", "a plug-in family: relaxed layers under another name"))
register_metric("path_length", lambda ep: None if ep.trace is None else float(
    np.linalg.norm(np.diff(ep.trace["point_pos"], axis=0), axis=1).sum()))
