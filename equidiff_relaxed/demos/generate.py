"""Generate expert demonstrations into a zarr replay buffer: deterministic for a seed, whatever the worker count.

Episode i is produced from the seed words (seed, i, attempt): the expert's failed attempts are retried with the
next attempt number, and only successful episodes are stored. With ``stratify`` episode i is drawn in orientation
sector i mod K, retries included, so every sector gets its share of successful demos even where the expert often
fails (e.g. Lift with a 360° grasp in the wrist-limit sector). Workers (spawned processes, each with its own
env and GL context) take episode indices; results are written in index order, so the output is byte-for-byte the
same data for any ``workers``.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.data.writer import BufferWriter
from equidiff_relaxed.demos.rollout import Episode, run_expert_episode
from equidiff_relaxed.envs.perturb import PerturbConfig
from equidiff_relaxed.envs.protocol import task_env
from equidiff_relaxed.envs.registry import EnvSpec, get_env_spec, make_env, make_expert
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.progress import progress_bar
from equidiff_relaxed.threads import worker_threads


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate. ``n_regions``/``region`` restrict theta to one sector; ``stratify`` (with ``n_regions``
    K) draws episode i in sector i mod K, so the sectors have equal shares of the dataset (and of any prefix of
    it), and a failed attempt is retried in the same sector, up to ``max_attempts``; ``noise_std`` is the expert's
    action noise, part of the recorded label (metres; radians too for robosuite; default: the env's, push 0,
    robosuite 0.005); ``image_size`` adds a camera (push: top-down; robosuite: agentview); ``max_steps``: the
    episode limit (default: the env's). ``options``: the env's own generation options by name (its registration's
    ``options`` dataclass, e.g. push: DART perturbations ``dart_noise``, ``burst_prob``, ``burst_steps``,
    ``burst_scale``, ``expert_plan_once``; robosuite: ``action_mode``, ``radius``, ``grasp_symmetry``)."""

    env: str
    episodes: int
    seed: int = 0
    image_size: int | None = None
    n_regions: int | None = None
    region: int | None = None
    stratify: bool = False
    noise_std: float | None = None
    max_steps: int | None = None
    max_attempts: int = 20
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> EnvSpec:
        return get_env_spec(self.env)

    def validate(self) -> None:
        spec = self.spec  # UserError for an unknown env
        if self.episodes < 1:
            raise UserError(f"--episodes must be >= 1, got {self.episodes}")
        if self.region is not None:
            if not self.n_regions or self.n_regions < 1:
                raise UserError("--region needs --theta_regions K >= 1")
            if not 0 <= self.region < self.n_regions:
                raise UserError(f"--region must be in [0, {self.n_regions}), got {self.region}")
        if self.n_regions is not None and self.n_regions < 1:
            raise UserError(f"--theta_regions must be >= 1, got {self.n_regions}")
        if self.stratify and (not self.n_regions or self.region is not None):
            raise UserError("--stratify_regions needs --theta_regions K and no --region")
        if self.max_attempts < 1:
            raise UserError(f"--max_attempts must be >= 1, got {self.max_attempts}")
        multiple = getattr(spec.options, "IMAGE_MULTIPLE", 8) if spec.options is not None else 8
        if self.image_size is not None and (self.image_size < 8 or self.image_size % multiple):
            raise UserError(f"--image_size must be a multiple of {multiple} for {self.env}, got {self.image_size}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"--max_steps must be >= 1, got {self.max_steps}")
        if self.noise_std is not None and (not math.isfinite(self.noise_std) or self.noise_std < 0):
            raise UserError(f"--noise must be a finite number >= 0, got {self.noise_std}")
        if spec.make_expert is None:
            raise UserError(f"{self.env} has no scripted expert to generate demos with")
        self.env_options()
        spec.check_available()

    def env_options(self) -> Any:
        """The env's generation options (its registration's ``options`` dataclass), validated."""
        return self.spec.generation_options(dict(self.options))

    @property
    def expert_noise(self) -> float:
        """Noise on the recorded expert action: ``noise_std``, else the env's default (push 0: clean labels, DART
        does the exploring; robosuite 0.005)."""
        return self.noise_std if self.noise_std is not None else self.spec.expert_noise

    def perturb(self) -> PerturbConfig:
        """DART perturbation of executed actions (the env's options say; none for robosuite)."""
        return self.env_options().perturb()

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``make_env`` for this configuration."""
        return self.env_options().env_kwargs(self.image_size, self.max_steps)

    def process_key(self) -> tuple:
        """What the env and expert of a worker process depend on (not the episodes, seeds or regions)."""
        options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.options.items()))
        return (self.env, self.image_size, self.noise_std, self.max_steps, options)


_PROCESS_CACHE: dict[tuple, tuple] = {}


def _env_and_expert(cfg: GenerateConfig) -> tuple[gym.Env, Any]:
    key = cfg.process_key()
    if key not in _PROCESS_CACHE:
        env = make_env(cfg.env, **cfg.env_kwargs())
        _PROCESS_CACHE[key] = (env, make_expert(cfg.env, env, cfg.expert_noise, **cfg.env_options().expert_kwargs()))
    return _PROCESS_CACHE[key]


def episode_region(cfg: GenerateConfig, index: int) -> int | None:
    """The orientation sector episode ``index`` is drawn in: ``region``, i mod K when stratified, else None (any)."""
    if cfg.stratify:
        assert cfg.n_regions
        return index % cfg.n_regions
    return cfg.region


def generate_episode(cfg: GenerateConfig, index: int) -> tuple[Episode, int]:
    """Episode ``index`` (a successful one) and the number of failed attempts before it."""
    env, expert = _env_and_expert(cfg)
    region = episode_region(cfg, index)
    for attempt in range(cfg.max_attempts):
        ep = run_expert_episode(env, expert, [cfg.seed, index, attempt], n_regions=cfg.n_regions, region=region,
                                perturb=cfg.perturb())
        if ep.success:
            return ep, attempt
    where = f" (sector {region} of {cfg.n_regions})" if region is not None else ""
    raise UserError(f"the expert failed {cfg.max_attempts} times on episode {index} of {cfg.env}{where}; "
                    "raise --max_attempts")


def _task(args: tuple[GenerateConfig, int]) -> tuple[Episode, int]:
    return generate_episode(*args)


def generate(cfg: GenerateConfig, out: str | os.PathLike, workers: int = 1, overwrite: bool = False,
             progress: bool = True) -> dict[str, Any]:
    """Write ``cfg.episodes`` successful expert episodes to ``out`` (.zarr or .zarr.zip) atomically."""
    cfg.validate()
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    tasks = [(cfg, i) for i in range(cfg.episodes)]
    failures = recovery = 0
    with BufferWriter(out, overwrite=overwrite) as writer:
        bar = progress_bar(cfg.episodes, f"generating {cfg.env}", "ep", enabled=progress)
        if workers == 1:
            results = map(_task, tasks)
            pool = None
        else:
            pool = mp.get_context("spawn").Pool(workers, initializer=worker_threads, initargs=(workers,))
            results = pool.imap(_task, tasks, chunksize=max(1, min(16, cfg.episodes // (4 * workers))))
        try:
            for ep, failed in results:
                failures += failed
                recovery += ep.recovery_steps
                writer.add(ep.data, {"theta": ep.theta, "seed": ep.seed, "recovery_steps": ep.recovery_steps})
                bar.update(1)
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
        task = task_env(_env_and_expert(cfg)[0])
        writer.set_attrs(
            shape_meta=ShapeMeta.from_dict(task.shape_meta_dict()),
            **task.dataset_attrs(),
            source={"generator": "equidiff-generate", **asdict(cfg), "options": asdict(cfg.env_options()),
                    "expert_noise": cfg.expert_noise, "perturb": asdict(cfg.perturb()), "failed_attempts": failures},
        )
        writer.flush()
        buf = writer.buffer
        assert buf is not None
        summary = {"episodes": buf.n_episodes, "steps": buf.n_steps, "failed_attempts": failures,
                   "expert_success": cfg.episodes / (cfg.episodes + failures),
                   "recovery_share": recovery / max(buf.n_steps, 1)}
    return summary


__all__ = ["GenerateConfig", "episode_region", "generate", "generate_episode"]
