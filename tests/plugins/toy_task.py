"""A plug-in as a user would write one: a new env (with its expert, failure analysis and a registration), a new
model family with a mechanism of its own and a new metric, each registered in one call. The tests load it through
``EQUIDIFF_PLUGINS``.

The env: a point in the plane steered to a goal. theta turns the goal about the origin; the action is the point's
next target position (pos2), clipped to 5 cm per step.

The family, ``region_bias``: the exactly equivariant networks plus a learned correction per orientation region of
the state (a table b[k] of (T, A) offsets added to the denoiser's prediction, k the region of the first observed
position about the symmetry centre), started at zero under an L2 prior: exact at initialisation, and a break costs
``bias_beta * ||b||^2``. Its options (``--model.bias_regions``, ``--model.bias_beta``), its networks and its penalty
are all here.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from equidiff_relaxed.envs.outcomes import EpisodeMetrics, FailureAnalysis, Trace
from equidiff_relaxed.envs.registry import EnvSpec, register_env
from equidiff_relaxed.eval.metrics import register_metric
from equidiff_relaxed.nn.penalty import Penalised
from equidiff_relaxed.policy.families import register
from equidiff_relaxed.policy.families.equivariant import EquivariantFamily
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


@dataclass(frozen=True)
class RegionBiasOptions:
    """Options of the region_bias family.

    Args:
        bias_regions: orientation regions, each with its own correction table.
        bias_beta: the L2 prior on the corrections.
    """

    bias_regions: int = 4
    bias_beta: float = 1.0

    def validate(self) -> None:
        if self.bias_regions < 1 or self.bias_beta < 0:
            raise ValueError(f"bias_regions must be >= 1 and bias_beta >= 0, got {self.bias_regions}, {self.bias_beta}")


class RegionEncoder(nn.Module):
    """obs -> (the equivariant networks' condition, the region (B,) of the first observed position)."""

    def __init__(self, equi: nn.Module, key: str, regions: int):
        super().__init__()
        self.equi, self.key, self.regions = equi, key, regions

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> tuple:
        p = obs[self.key][:, -1]  # normalised: centred on the symmetry centre
        angle = torch.remainder(torch.atan2(p[:, 1], p[:, 0]), 2 * math.pi)
        return self.equi(obs, generator), (angle / (2 * math.pi / self.regions)).long().clamp(max=self.regions - 1)


class RegionBiasDenoiser(nn.Module, Penalised):
    """The equivariant prediction plus table[region], (B, T, A); penalty ``beta * ||table||^2``."""

    def __init__(self, equi: nn.Module, regions: int, horizon: int, action_dim: int, beta: float):
        super().__init__()
        self.equi, self.beta = equi, beta
        self.table = nn.Parameter(torch.zeros(regions, horizon, action_dim))

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, cond: tuple) -> torch.Tensor:
        features, region = cond
        return self.equi(noisy, t, features) + self.table[region]

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        return self.beta * self.table.pow(2).sum()


class RegionBiasFamily(EquivariantFamily):
    options = RegionBiasOptions
    exact = False  # starts exact (the table is 0); a learned table breaks the symmetry

    def build(self, ctx: Any) -> tuple[Any, Any]:
        o = ctx.options
        key = next(k for k in ctx.meta.low_dim_keys if ctx.meta.obs[k].rep == "pos2")
        encoder, denoiser = ctx.group_folded()
        return (RegionEncoder(encoder, key, o.bias_regions),
                RegionBiasDenoiser(denoiser, o.bias_regions, ctx.config.horizon, ctx.action_dim, o.bias_beta))


register(RegionBiasFamily("region_bias", "equivariant plus a learned correction per orientation region (a plug-in)"))
register_metric("path_length", lambda ep: None if ep.trace is None else float(
    np.linalg.norm(np.diff(ep.trace["point_pos"], axis=0), axis=1).sum()))
