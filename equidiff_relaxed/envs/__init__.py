"""Simulated tasks: planar push on MuJoCo (push, push-pillar, push-drift) and scripted experts.

``make_env(name, **kwargs)`` builds an env by name; the same envs are registered with gymnasium as
``equidiff/push-v0``, ``equidiff/push-pillar-v0`` and ``equidiff/push-drift-v0``.
MUJOCO_GL defaults to ``egl`` (headless rendering); set it before importing to choose another backend.
"""
from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from equidiff_relaxed.envs.planar_push import SYMMETRY_CENTER, PlanarPushEnv  # noqa: E402
from equidiff_relaxed.envs.push_expert import ExpertConfig, PushExpert  # noqa: E402
from equidiff_relaxed.envs.push_scene import VARIANTS, PushGeometry  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402

ENV_NAMES = tuple(VARIANTS)

for _name in ENV_NAMES:
    _id = f"equidiff/{_name}-v0"
    if _id not in gym.registry:
        gym.register(_id, entry_point="equidiff_relaxed.envs.planar_push:PlanarPushEnv", kwargs={"variant": _name})


def make_env(name: str, **kwargs: Any) -> PlanarPushEnv:
    """The env called ``name`` (push | push-pillar | push-drift); unknown names raise a UserError listing them."""
    if name not in ENV_NAMES:
        raise UserError(f"unknown env {name!r} (known: {', '.join(ENV_NAMES)})")
    return PlanarPushEnv(variant=name, **kwargs)


def make_expert(env: PlanarPushEnv, noise_std: float = 0.0, **kwargs: Any) -> PushExpert:
    """The scripted expert for ``env``."""
    return PushExpert(env.geom, env.variant, ExpertConfig(noise_std=noise_std, **kwargs))


__all__ = ["ENV_NAMES", "SYMMETRY_CENTER", "PlanarPushEnv", "PushExpert", "ExpertConfig", "PushGeometry", "make_env",
           "make_expert"]
