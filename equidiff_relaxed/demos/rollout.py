"""One scripted-expert episode in a task env (push or robosuite), reproducible from (seed, theta).

Each episode's randomness comes from ``np.random.SeedSequence(seed_words)``: the env reset seed, theta (when not
given) and the expert's noise. So an episode is a function of its seed words only, whatever process runs it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from equidiff_relaxed.demos.dart import Perturber
from equidiff_relaxed.envs.perturb import PerturbConfig
from equidiff_relaxed.envs.protocol import task_env
from equidiff_relaxed.symmetry.regions import region_bounds


@dataclass
class Episode:
    """Arrays of one episode (time first) and its per-episode values."""

    data: dict[str, np.ndarray]
    theta: float
    seed: int
    success: bool
    recovery_steps: int = 0  # steps at which the expert was re-aligning behind the puck after it had started pushing

    @property
    def length(self) -> int:
        return len(self.data["action"])


def draw_theta(rng: np.random.Generator, n_regions: int | None = None, region: int | None = None,
               offset: float = 0.0) -> float:
    """Uniform on [0, 2pi), or uniform inside sector ``region`` of ``n_regions``."""
    if region is None:
        return float(rng.uniform(0.0, 2 * math.pi))
    lo, hi = region_bounds(region, n_regions or 1, offset)
    return float(rng.uniform(lo, hi) % (2 * math.pi))


def run_expert_episode(env: gym.Env, expert: Any, seed_words: Any, theta: float | None = None,
                       n_regions: int | None = None, region: int | None = None,
                       perturb: PerturbConfig | None = None) -> Episode:
    """Roll the expert out for one episode; observations (every key) and the simulator state are recorded before
    each action. Envs with ``clip_action`` record the action as clipped. With ``perturb`` (DART) the env executes a
    perturbed action while the recorded label stays the expert's clean action for the observation seen; the
    perturbation's randomness has its own stream, so the expert's own noise is the same with or without it."""
    rng = np.random.default_rng(np.random.SeedSequence(seed_words))
    env_seed = int(rng.integers(0, 2**31 - 1))
    if theta is None:
        theta = draw_theta(rng, n_regions, region)
    obs, info = env.reset(seed=env_seed, options={"theta": theta})
    expert.reset(rng)
    keys = sorted(obs)
    clip = getattr(env, "clip_action", None)
    perturber = None
    if perturb is not None and perturb.active:
        words = [int(w) for w in np.atleast_1d(seed_words)]
        perturber = Perturber(perturb, np.random.default_rng(np.random.SeedSequence([*words, 0xDA27])))
    record: dict[str, list] = {k: [] for k in [*keys, "action", "states", "rewards", "dones"]}
    success, pushed, recovery = False, False, 0
    for _ in range(task_env(env).max_steps):
        action = expert.act(obs)
        repositioning = getattr(expert, "repositioning", None)
        if repositioning is not None:
            recovery += int(pushed and repositioning)
            pushed = pushed or not repositioning
        for k in keys:
            record[k].append(obs[k])
        record["states"].append(env.get_state())
        record["action"].append(np.asarray(clip(action) if clip else action, dtype=np.float32))
        executed = perturber(action) if perturber is not None else action
        obs, reward, terminated, truncated, info = env.step(executed)
        record["rewards"].append(np.float32(reward))
        record["dones"].append(np.float32(terminated))
        if terminated or truncated:
            success = bool(info["is_success"])
            break
    data = {k: np.stack(v) for k, v in record.items()}
    return Episode(data=data, theta=float(info["theta"]), seed=env_seed, success=success, recovery_steps=recovery)
