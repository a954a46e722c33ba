"""Policy rollouts over an episode plan, with env faults isolated per episode.

Sub-envs run in an ``envpool.EnvPool``: one worker process per env (spawn), or the env in this process for
``n_envs = 1``. Each batch of ``n_envs`` planned episodes starts together, each env reset with its episode's seed and
``options={"theta": ...}``, and runs until all are done. The loop is the one a user runs on a robot: ``policy.reset()``,
then ``policy.select_action(obs)`` every step (the policy keeps the last To observations and the Ta actions of each
chunk), here with one row per env. Each episode's diffusion noise comes from its own generator, so results do not
depend on ``n_envs``.

Faults end one episode, not the evaluation: an env that raises (reset, step, render) or whose worker process dies
gives a failed episode with category ``env_error``; an observation or reported position holding NaN/inf gives
``nonfinite_state``; either way with a one-line ``reason``. The other episodes of the batch go on; a broken env is made
again before the next batch. As every episode starts from its own reset seed and noise seed, the replacement changes
no other episode (plans stay paired). Non-finite *actions* are the policy's fault: they raise
:class:`NonFiniteActionError`.

With the env's failure analysis (its registration's :class:`~equidiff_relaxed.envs.outcomes.FailureAnalysis`), the
``info`` entries it names are recorded at every step (push envs: pusher, puck, goal; pick envs: grip site, object,
wrist) and each episode gets its metrics and failure category; without one, failures are ``unknown``. With
``video_failures = N`` every episode of a region that still lacks N failure videos is filmed; the frames of a failed
one go to ``on_failure_video`` at once (the first N failures of each region, in plan order), the others are dropped,
so at most ``n_envs`` episodes of frames are held.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch

from equidiff_relaxed.envs.outcomes import (ENV_ERROR, NONFINITE_STATE, UNKNOWN, EpisodeMetrics, FailureAnalysis,
                                            Scene, Trace, trace_row)
from equidiff_relaxed.eval.envpool import EnvFault, EnvPool
from equidiff_relaxed.eval.plan import EpisodeSpec
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.progress import progress_bar


@dataclass
class EpisodeResult:
    spec: EpisodeSpec
    success: bool
    steps: int
    metrics: EpisodeMetrics | None = None  # failure analysis (None: not measured)
    reason: str | None = None  # one line, for env faults (``env_error``, ``nonfinite_state``): what went wrong
    trace: Trace | None = None  # the analysis's info entries, (T, ...) per key (None: not recorded)

    @property
    def failure(self) -> str | None:
        """Failure category (``registry.failure_categories()``) of a failed episode, None for a success."""
        if self.success:
            return None
        return self.metrics.failure if self.metrics is not None else UNKNOWN


@dataclass
class RolloutOutput:
    results: list[EpisodeResult]
    obs_samples: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)  # region -> obs windows
    videos: dict[int, list[np.ndarray]] = field(default_factory=dict)  # region -> frames of its first episode


def nonfinite_field(obs: dict[str, Any], info: dict[str, Any], traced: tuple[str, ...] = ()) -> str | None:
    """The first observation or traced ``info`` entry (``traced``: the failure analysis's keys) holding NaN or inf,
    else None."""
    fields = [(f"observation {k!r}", v) for k, v in obs.items()]
    fields += [(f"state {k!r}", info[k]) for k in traced if k in info]
    for name, value in fields:
        a = np.asarray(value)
        if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
            return name
    return None


class NonFiniteActionError(RuntimeError):
    """The policy produced NaN/inf actions for a running episode (a broken checkpoint, not an env fault)."""

    def __init__(self, spec: EpisodeSpec):
        self.spec = spec
        super().__init__(f"the policy produced non-finite actions (episode {spec.index}, region {spec.region})")


@dataclass
class _Episode:
    """One planned episode while it runs in a slot of the env pool (or a padding row of the policy batch)."""

    spec: EpisodeSpec
    gen: torch.Generator
    analysis: FailureAnalysis | None = None
    obs: dict[str, np.ndarray] | None = None  # the latest observation (None until a clean reset)
    rows: list[dict[str, np.ndarray]] = field(default_factory=list)  # the traced info entries per state
    scene: Scene | None = None
    frames: list[np.ndarray] | None = None  # None: not filmed
    steps: int = 0
    done: bool = False
    success: bool = False
    fault: str | None = None   # ENV_ERROR or NONFINITE_STATE
    reason: str | None = None  # one line: what went wrong

    def fail(self, category: str, reason: str) -> None:
        self.done, self.success, self.fault, self.reason = True, False, category, reason

    def observe(self, reply: Any) -> None:
        """Take a reset reply (obs, info) or a step reply (obs, reward, term, trunc, info), or an EnvFault."""
        reset = self.obs is None
        after = "reset" if reset else f"step {self.steps + 1}"
        if isinstance(reply, EnvFault):
            self.fail(ENV_ERROR, str(reply) if reset else f"{reply} (at step {self.steps + 1})")
            return
        obs, info = reply[0], reply[-1]
        if not reset:
            self.steps += 1
        keys = self.analysis.trace_keys if self.analysis is not None else ()
        bad = nonfinite_field(obs, info, keys)
        if bad is not None:
            self.fail(NONFINITE_STATE, f"non-finite {bad} after {after}")
            return
        self.obs = {k: np.array(v) for k, v in obs.items()}
        if reset:
            self.scene = self.analysis.scene(info) if self.analysis is not None else None
        if self.scene is not None:
            row = trace_row(info, keys)
            if row is None:  # the info stopped reporting what the analysis needs: no analysis of this episode
                self.scene, self.rows = None, []
            else:
                self.rows.append(row)
        if not reset and (reply[2] or reply[3]):
            self.done, self.success = True, bool(reply[2])

    def film(self, reply: Any) -> None:
        if isinstance(reply, EnvFault):
            self.fail(ENV_ERROR, str(reply))
        elif self.frames is not None:
            self.frames.append(reply)

    def result(self) -> EpisodeResult:
        if self.analysis is not None:
            metrics, trace = self.analysis.metrics(self.scene, self.rows, self.success)
        else:
            metrics, trace = EpisodeMetrics(failure=None if self.success else UNKNOWN), None
        if self.fault is not None:
            metrics = replace(metrics, failure=self.fault)
        return EpisodeResult(self.spec, self.success, self.steps, metrics, self.reason, trace)


def _film(pool: EnvPool, eps: list[_Episode], slots: list[int]) -> None:
    filmed = [i for i in slots if eps[i].frames is not None and not eps[i].fault]
    if filmed:
        for i, reply in pool.run({i: ("render", ()) for i in filmed}).items():
            eps[i].film(reply)


@torch.no_grad()
def rollout(policy: DiffusionPolicy, env_fn: Callable[[], gym.Env], plan: list[EpisodeSpec], n_envs: int = 2,
            ddim_steps: int | None = None, video: bool = False, samples_per_region: int = 8,
            progress: bool = True, desc: str = "evaluating", video_failures: int = 0,
            on_failure_video: Callable[[EpisodeResult, list[np.ndarray]], None] | None = None,
            analysis: FailureAnalysis | None = None, lazy_images: bool = True) -> RolloutOutput:
    """Run every planned episode; returns per-episode results, observation samples per region, optional videos.

    ``video``: keep the frames of each region's first episode (``RolloutOutput.videos``). ``video_failures``: hand
    the frames of the first ``video_failures`` failed episodes of each region to ``on_failure_video``. Both need an
    env made with ``render_mode="rgb_array"``. ``analysis``: the env's failure analysis (None: failures are
    ``unknown``). Env faults end their episode as a failure (see the module docstring); non-finite policy actions
    raise :class:`NonFiniteActionError`. ``lazy_images``: ask envs that can (``step_without_images``) to skip
    rendering the observations the policy will not look at (:meth:`DiffusionPolicy.needs_next_images`); the policy
    sees the same windows either way, so the episodes are the same.
    """
    if video_failures < 0:
        raise ValueError(f"video_failures must be >= 0, got {video_failures}")
    if video_failures and on_failure_video is None:
        raise ValueError("video_failures needs on_failure_video")
    policy.eval()
    n_envs = max(1, min(n_envs, len(plan)))
    pool = EnvPool(env_fn, n_envs, in_process=n_envs == 1)
    out = RolloutOutput(results=[])
    fail_videos: dict[int, int] = {}  # region -> failure videos handed out
    bar = progress_bar(len(plan), desc, "ep", enabled=progress)
    try:
        for start in range(0, len(plan), n_envs):
            batch = plan[start : start + n_envs]
            pool.revive()  # fresh envs where a fault broke one; every episode starts from its own reset seed
            eps = [_Episode(s, torch.Generator().manual_seed(s.noise_seed), analysis) for s in batch]
            for ep in eps:
                if (video and ep.spec.index == 0) or fail_videos.get(ep.spec.region, 0) < video_failures:
                    ep.frames = []
            slots = list(range(len(eps)))
            resets = pool.run({i: ("reset", (ep.spec.reset_seed, {"theta": ep.spec.theta})) for i, ep in enumerate(eps)})
            for i, ep in enumerate(eps):
                ep.observe(resets[i])
            _film(pool, eps, slots)
            # The policy batch always has n_envs rows, as with a vector env: padding rows repeat the last episode.
            pads = [_Episode(batch[-1], torch.Generator().manual_seed(batch[-1].noise_seed)) for _ in
                    range(n_envs - len(batch))]
            generators = [ep.gen for ep in eps + pads]
            policy.reset()
            while not all(ep.done for ep in eps):
                spare = next(ep.obs for ep in eps if ep.obs is not None)  # for episodes that failed at reset
                rows = [ep.obs if ep.obs is not None else spare for ep in eps]
                rows += [rows[-1]] * len(pads)
                obs = {k: np.stack([r[k] for r in rows]) for k in policy.meta.obs}
                actions = policy.select_action(obs, generator=generators, ddim_steps=ddim_steps)
                if policy.chunk_started:  # observation windows for the symmetry diagnostics
                    history = policy.observation_history()
                    for i, ep in enumerate(eps):
                        bucket = out.obs_samples.setdefault(ep.spec.region, [])
                        if not ep.done and len(bucket) < samples_per_region and ep.steps % 4 == 0:
                            bucket.append({k: v[i] for k, v in history.items()})
                active = [i for i, ep in enumerate(eps) if not ep.done]
                for i in active:
                    if not np.isfinite(actions[i]).all():
                        raise NonFiniteActionError(eps[i].spec)
                # an observation the next chunk will not see needs no camera images (rendering dominates robosuite
                # evaluation): envs with step_without_images skip them, others step as usual
                cmd = ("step_without_images" if lazy_images and policy.meta.rgb_keys and not policy.needs_next_images()
                       else "step")
                for i, reply in pool.run({i: (cmd, (actions[i],)) for i in active}).items():
                    eps[i].observe(reply)
                _film(pool, eps, active)
            for ep in eps:
                result = ep.result()
                out.results.append(result)
                if ep.frames is not None:
                    if video and ep.spec.index == 0:
                        out.videos[ep.spec.region] = ep.frames
                    if not result.success and fail_videos.get(ep.spec.region, 0) < video_failures:
                        fail_videos[ep.spec.region] = fail_videos.get(ep.spec.region, 0) + 1
                        on_failure_video(result, ep.frames)  # type: ignore[misc]
            bar.update(len(batch))
            faults = sum(r.reason is not None for r in out.results)
            if faults:
                bar.set_postfix(env_faults=faults)
    finally:
        bar.close()
        pool.close()
    return out


def policy_env_kwargs(policy: DiffusionPolicy, n_regions: int) -> dict[str, Any]:
    """Env options a policy needs: the region count and, when it sees images, their size (from shape_meta)."""
    image_size = next((policy.meta.obs[k].shape[1] for k in policy.meta.rgb_keys), None)
    return {"n_regions": n_regions, "image_size": image_size}


def env_factory(name: str, **kwargs: Any) -> Callable[[], gym.Env]:
    """A picklable constructor for (vector) envs (resolved through the env registry in each worker process)."""
    from equidiff_relaxed.envs.registry import make_env

    return functools.partial(make_env, name, **kwargs)
