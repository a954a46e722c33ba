"""Vectorized policy rollouts over an episode plan.

Sub-envs run in processes (gymnasium AsyncVectorEnv, spawn; a SyncVectorEnv for one env) with automatic reset
disabled: each batch of ``n_envs`` planned episodes starts together, each env with its own theta (``set_attr``) and
reset seed, and runs until all are done. The policy sees the last To observations (the first one repeated at the
start, as in training) and executes Ta actions per inference. Each episode's diffusion noise comes from its own
generator, so results do not depend on ``n_envs``.

Envs that report positions in ``info`` (the push envs: ``pusher_pos``, ``puck_pos``, ``goal_pos``, sizes, optional
``pillar_pos``) get a failure analysis per episode (``failures.analyse_episode``); others get ``unknown``. With
``video_failures = N`` every episode of a region that still lacks N failure videos is filmed; the frames of a failed
one go to ``on_failure_video`` at once (the first N failures of each region, in plan order), the others are dropped,
so at most ``n_envs`` episodes of frames are held.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from equidiff_relaxed.data.datamodule import window_to_tensors
from equidiff_relaxed.eval.failures import (UNKNOWN, EpisodeMetrics, SceneGeometry, analyse_episode,
                                            unknown_metrics)
from equidiff_relaxed.eval.plan import EpisodeSpec
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy


@dataclass
class EpisodeResult:
    spec: EpisodeSpec
    success: bool
    steps: int
    metrics: EpisodeMetrics | None = None  # failure analysis (None: not measured)

    @property
    def failure(self) -> str | None:
        """Failure category (``failures.CATEGORIES``) of a failed episode, None for a success."""
        if self.success:
            return None
        return self.metrics.failure if self.metrics is not None else UNKNOWN


TRACE_KEYS = ("pusher_pos", "puck_pos", "goal_pos")
GEOMETRY_KEYS = ("puck_radius", "pusher_radius", "success_tolerance")


def _has(info: dict[str, Any], key: str, i: int) -> bool:
    return key in info and bool(info.get(f"_{key}", np.ones(i + 1, dtype=bool))[i])


def scene_state(info: dict[str, Any], i: int) -> np.ndarray | None:
    """(3, 2) pusher, puck and goal xy of sub-env ``i`` from a vector env's ``info``; None if it reports none."""
    if not all(_has(info, k, i) for k in TRACE_KEYS):
        return None
    return np.stack([np.asarray(info[k][i], dtype=np.float64) for k in TRACE_KEYS])


def scene_geometry(info: dict[str, Any], i: int) -> tuple[SceneGeometry, np.ndarray | None] | None:
    """Sizes (and pillar xy, if any) of sub-env ``i`` from a vector env's reset ``info``; None if it reports none."""
    if not all(_has(info, k, i) for k in GEOMETRY_KEYS):
        return None
    pillar = _has(info, "pillar_pos", i) and _has(info, "pillar_radius", i)
    geom = SceneGeometry(*(float(info[k][i]) for k in GEOMETRY_KEYS),
                         pillar_radius=float(info["pillar_radius"][i]) if pillar else None)
    return geom, (np.asarray(info["pillar_pos"][i], dtype=np.float64) if pillar else None)


def episode_metrics(trace: list[np.ndarray | None], scene: tuple[SceneGeometry, np.ndarray | None] | None,
                    success: bool) -> EpisodeMetrics:
    """Failure analysis of one recorded episode (``unknown_metrics`` when positions or sizes are missing)."""
    if scene is None or not trace or any(t is None for t in trace):
        return unknown_metrics(success)
    states = np.stack(trace)  # type: ignore[arg-type]
    return analyse_episode(states[:, 0], states[:, 1], states[:, 2], success, scene[0], scene[1])


@dataclass
class RolloutOutput:
    results: list[EpisodeResult]
    obs_samples: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)  # region -> obs windows
    videos: dict[int, list[np.ndarray]] = field(default_factory=dict)  # region -> frames of its first episode


def last_window(history: list[dict[str, np.ndarray]], policy: DiffusionPolicy) -> dict[str, np.ndarray]:
    """The last To observations of one env as {key: (To, ...)} (environment units, images uint8 HWC)."""
    return {k: np.stack([h[k] for h in history[-policy.n_obs_steps:]]) for k in policy.meta.obs}


def policy_input(histories: list[list[dict[str, np.ndarray]]], policy: DiffusionPolicy,
                 device: torch.device) -> dict[str, torch.Tensor]:
    """Last To observations of each env -> {key: (n, To, ...)} exactly as the dataset serves them."""
    windows = [window_to_tensors(last_window(h, policy), policy.meta) for h in histories]
    return {k: torch.stack([w[k] for w in windows]).to(device) for k in policy.meta.obs}


def make_vector_env(env_fn: Callable[[], gym.Env], n_envs: int) -> gym.vector.VectorEnv:
    mode = gym.vector.AutoresetMode.DISABLED
    if n_envs == 1:
        return gym.vector.SyncVectorEnv([env_fn], autoreset_mode=mode)
    return gym.vector.AsyncVectorEnv([env_fn] * n_envs, context="spawn", autoreset_mode=mode)


def _split(obs: dict[str, np.ndarray], n: int) -> list[dict[str, np.ndarray]]:
    return [{k: v[i] for k, v in obs.items()} for i in range(n)]


@torch.no_grad()
def rollout(policy: DiffusionPolicy, env_fn: Callable[[], gym.Env], plan: list[EpisodeSpec], n_envs: int = 2,
            ddim_steps: int | None = None, video: bool = False, samples_per_region: int = 8,
            progress: bool = True, desc: str = "evaluating", video_failures: int = 0,
            on_failure_video: Callable[[EpisodeResult, list[np.ndarray]], None] | None = None) -> RolloutOutput:
    """Run every planned episode; returns per-episode results, observation samples per region, optional videos.

    ``video``: keep the frames of each region's first episode (``RolloutOutput.videos``). ``video_failures``: hand
    the frames of the first ``video_failures`` failed episodes of each region to ``on_failure_video``. Both need an
    env made with ``render_mode="rgb_array"``.
    """
    if video_failures < 0:
        raise ValueError(f"video_failures must be >= 0, got {video_failures}")
    if video_failures and on_failure_video is None:
        raise ValueError("video_failures needs on_failure_video")
    policy.eval()
    device = next(policy.parameters()).device
    n_envs = max(1, min(n_envs, len(plan)))
    envs = make_vector_env(env_fn, n_envs)
    out = RolloutOutput(results=[])
    fail_videos: dict[int, int] = {}  # region -> failure videos handed out
    bar = tqdm(total=len(plan), desc=desc, unit="ep", disable=not progress)
    try:
        for start in range(0, len(plan), n_envs):
            batch = plan[start : start + n_envs]
            specs = batch + [batch[-1]] * (n_envs - len(batch))  # pad the last batch; extras are ignored
            envs.set_attr("next_theta", [s.theta for s in specs])
            obs, info = envs.reset(seed=[s.reset_seed for s in specs])
            scenes = [scene_geometry(info, i) for i in range(n_envs)]
            traces = [[scene_state(info, i)] for i in range(n_envs)]
            hist = [[o] * policy.n_obs_steps for o in _split(obs, n_envs)]
            gens = [torch.Generator().manual_seed(s.noise_seed) for s in specs]
            done, success, steps = [False] * n_envs, [False] * n_envs, [0] * n_envs
            filmed = [i < len(batch) and ((video and s.index == 0) or fail_videos.get(s.region, 0) < video_failures)
                      for i, s in enumerate(specs)]
            frames: dict[int, list[np.ndarray]] = {i: [] for i, f in enumerate(filmed) if f}
            if frames:
                shots = envs.call("render")
                for i in frames:
                    frames[i].append(shots[i])
            while not all(done[: len(batch)]):
                for i, s in enumerate(batch):
                    bucket = out.obs_samples.setdefault(s.region, [])
                    if not done[i] and len(bucket) < samples_per_region and steps[i] % 4 == 0:
                        bucket.append(last_window(hist[i], policy))
                noise = torch.stack([torch.randn(policy.horizon, policy.action_dim, generator=g) for g in gens]).to(device)
                actions = policy.predict_action(policy_input(hist, policy, device), noise=noise,
                                                ddim_steps=ddim_steps).cpu().numpy()
                for j in range(actions.shape[1]):
                    obs, _, term, trunc, info = envs.step(actions[:, j])
                    step_obs = _split(obs, n_envs)
                    shots = envs.call("render") if frames else None
                    for i in range(n_envs):
                        if done[i]:
                            continue
                        steps[i] += 1
                        hist[i].append(step_obs[i])
                        traces[i].append(scene_state(info, i))
                        if shots is not None and i in frames:
                            frames[i].append(shots[i])
                        if term[i] or trunc[i]:
                            done[i], success[i] = True, bool(term[i])
                    if all(done[: len(batch)]):
                        break
            for i, s in enumerate(batch):
                result = EpisodeResult(s, success[i], steps[i], episode_metrics(traces[i], scenes[i], success[i]))
                out.results.append(result)
                if i in frames:
                    if video and s.index == 0:
                        out.videos[s.region] = frames[i]
                    if not result.success and fail_videos.get(s.region, 0) < video_failures:
                        fail_videos[s.region] = fail_videos.get(s.region, 0) + 1
                        on_failure_video(result, frames.pop(i))  # type: ignore[misc]
            bar.update(len(batch))
    finally:
        bar.close()
        envs.close()
    return out


def policy_env_kwargs(policy: DiffusionPolicy, n_regions: int) -> dict[str, Any]:
    """Env options a policy needs: the region count and, when it sees images, their size (from shape_meta)."""
    image_size = next((policy.meta.obs[k].shape[1] for k in policy.meta.rgb_keys), None)
    return {"n_regions": n_regions, "image_size": image_size}


def env_factory(name: str, **kwargs: Any) -> Callable[[], gym.Env]:
    """A picklable constructor for (vector) envs."""
    from equidiff_relaxed.envs import make_env

    return functools.partial(make_env, name, **kwargs)
