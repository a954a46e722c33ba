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
from dataclasses import asdict, dataclass
from typing import Any

from tqdm import tqdm

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.data.writer import BufferWriter
import gymnasium as gym

from equidiff_relaxed.demos.dart import PerturbConfig
from equidiff_relaxed.demos.rollout import Episode, run_expert_episode
from equidiff_relaxed.envs import ENV_NAMES, PUSH_ENVS, ROBOSUITE_ENVS, make_env, make_expert
from equidiff_relaxed.envs.planar_push import push_shape_meta_dict
from equidiff_relaxed.envs.protocol import task_env
from equidiff_relaxed.errors import UserError


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate. ``n_regions``/``region`` restrict theta to one sector; ``stratify`` (with ``n_regions``
    K) draws episode i in sector i mod K, so the sectors have equal shares of the dataset (and of any prefix of
    it), and a failed attempt is retried in the same sector, up to ``max_attempts``; ``noise_std`` is the expert's
    action noise, part of the recorded label (metres; radians too for robosuite; default: push 0, robosuite 0.005);
    ``image_size`` adds a camera (push: top-down; robosuite: agentview). Push tasks only: DART perturbations of the
    executed action (``dart_noise``, ``burst_prob``, ``burst_steps``, ``burst_scale``; see
    :mod:`equidiff_relaxed.demos.dart`; default 1 cm noise and 3-step 3 cm bursts with probability 0.1 per step)
    while the label stays the clean action. robosuite tasks only: ``action_mode`` (abs | delta) and the layout
    ``radius`` (m) and ``grasp_symmetry`` (degrees, the object symmetry the expert's grasp yaw uses; default 90, a
    cube; 360: the wrist follows theta and its joint limit breaks the symmetry). ``expert_memoryless=False`` (push): the older expert that plans its path once per episode."""

    env: str
    episodes: int
    seed: int = 0
    image_size: int | None = None
    n_regions: int | None = None
    region: int | None = None
    stratify: bool = False
    noise_std: float | None = None
    dart_noise: float | None = None
    burst_prob: float | None = None
    burst_steps: int = 3
    burst_scale: float = 0.03
    expert_memoryless: bool = True
    max_steps: int | None = None
    max_attempts: int = 20
    action_mode: str = "abs"
    radius: float | None = None
    grasp_symmetry: float | None = None

    def validate(self) -> None:
        if self.env not in ENV_NAMES:
            raise UserError(f"unknown env {self.env!r} (known: {', '.join(ENV_NAMES)})")
        if self.episodes < 1:
            raise UserError(f"--episodes must be >= 1, got {self.episodes}")
        if self.region is not None:
            if not self.n_regions or self.n_regions < 1:
                raise UserError("--region needs --theta-regions K >= 1")
            if not 0 <= self.region < self.n_regions:
                raise UserError(f"--region must be in [0, {self.n_regions}), got {self.region}")
        if self.n_regions is not None and self.n_regions < 1:
            raise UserError(f"--theta-regions must be >= 1, got {self.n_regions}")
        if self.stratify and (not self.n_regions or self.region is not None):
            raise UserError("--stratify-regions needs --theta-regions K and no --region")
        if self.max_attempts < 1:
            raise UserError(f"--max-attempts must be >= 1, got {self.max_attempts}")
        if self.image_size is not None and (self.image_size < 8 or self.image_size % 8):
            raise UserError(f"--image-size must be a multiple of 8, got {self.image_size}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.env in PUSH_ENVS and (self.action_mode != "abs" or self.radius is not None
                                      or self.grasp_symmetry is not None):
            raise UserError("--action-mode, --radius and --grasp-symmetry apply to robosuite tasks only")
        if self.grasp_symmetry is not None and not 0 < self.grasp_symmetry <= 360:
            raise UserError(f"--grasp-symmetry must be in (0, 360] degrees, got {self.grasp_symmetry}")
        if self.noise_std is not None and (not math.isfinite(self.noise_std) or self.noise_std < 0):
            raise UserError(f"--noise must be a finite number >= 0, got {self.noise_std}")
        if self.env in ROBOSUITE_ENVS and (self.dart_noise or self.burst_prob):
            raise UserError("DART perturbations (--dart-noise, --burst-prob) apply to the push tasks only")
        if self.env in ROBOSUITE_ENVS and not self.expert_memoryless:
            raise UserError("--expert-plan-once applies to the push tasks only")
        self.perturb().validate()
        if self.env in ROBOSUITE_ENVS:
            from equidiff_relaxed.envs.robosuite_tasks import ACTION_MODES, robosuite_available

            if not robosuite_available():
                raise UserError(f"{self.env} needs robosuite: pip install -e '.[robosuite]'")
            if self.action_mode not in ACTION_MODES:
                raise UserError(f"unknown --action-mode {self.action_mode!r} (known: {', '.join(ACTION_MODES)})")
            if self.radius is not None and not 0.0 <= self.radius <= 0.35:
                raise UserError(f"--radius must be in [0, 0.35] m (the table is 0.8 m wide), got {self.radius}")

    @property
    def expert_noise(self) -> float:
        """Noise on the recorded expert action: push 0 (clean labels, DART does the exploring), robosuite 0.005."""
        return self.noise_std if self.noise_std is not None else (0.0 if self.env in PUSH_ENVS else 0.005)

    def perturb(self) -> PerturbConfig:
        """DART perturbation of executed actions (push tasks; none for robosuite)."""
        push = self.env in PUSH_ENVS
        noise = self.dart_noise if self.dart_noise is not None else (0.01 if push else 0.0)
        prob = self.burst_prob if self.burst_prob is not None else (0.1 if push else 0.0)
        return PerturbConfig(noise, prob, self.burst_steps, self.burst_scale)

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``make_env`` for this configuration."""
        if self.env in PUSH_ENVS:
            return {"image_size": self.image_size, "max_steps": self.max_steps or 80}
        kwargs: dict[str, Any] = {"action_mode": self.action_mode, "max_steps": self.max_steps,
                                  "layout": {"radius": self.radius} if self.radius is not None else None}
        if self.image_size:
            kwargs.update(cameras=("agentview",), image_size=self.image_size)
        return kwargs


def push_shape_meta(image_size: int | None) -> ShapeMeta:
    """shape_meta of the planar push envs (positions pos2, optional top-down image)."""
    return ShapeMeta.from_dict(push_shape_meta_dict(image_size))


_PROCESS_CACHE: dict[GenerateConfig, tuple] = {}


def _env_and_expert(cfg: GenerateConfig) -> tuple[gym.Env, Any]:
    key = GenerateConfig(**{**asdict(cfg), "episodes": 0, "seed": 0, "n_regions": None, "region": None,
                            "stratify": False, "max_attempts": 1})
    if key not in _PROCESS_CACHE:
        env = make_env(cfg.env, **cfg.env_kwargs())
        extra: dict[str, Any] = {"memoryless": cfg.expert_memoryless} if cfg.env in PUSH_ENVS else {}
        if cfg.grasp_symmetry is not None:
            extra["symmetry_deg"] = cfg.grasp_symmetry
        _PROCESS_CACHE[key] = (env, make_expert(env, noise_std=cfg.expert_noise, **extra))
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
                    "raise --max-attempts")


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
        bar = tqdm(total=cfg.episodes, desc=f"generating {cfg.env}", unit="ep", disable=not progress)
        if workers == 1:
            results = map(_task, tasks)
            pool = None
        else:
            pool = mp.get_context("spawn").Pool(workers)
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
            source={"generator": "datasets/generate.py", **asdict(cfg), "expert_noise": cfg.expert_noise,
                    "perturb": asdict(cfg.perturb()), "failed_attempts": failures},
        )
        writer.flush()
        buf = writer.buffer
        assert buf is not None
        summary = {"episodes": buf.n_episodes, "steps": buf.n_steps, "failed_attempts": failures,
                   "expert_success": cfg.episodes / (cfg.episodes + failures),
                   "recovery_share": recovery / max(buf.n_steps, 1)}
    return summary


__all__ = ["GenerateConfig", "episode_region", "generate", "generate_episode", "push_shape_meta"]
