"""Simulated tasks: planar push on MuJoCo (push, push-pillar, push-drift), robosuite Lift and Stack (with the
``[robosuite]`` extra), and their scripted experts.

``make_env(name, **kwargs)`` builds an env by name; the same envs are registered with gymnasium as
``equidiff/<name>-v0`` (e.g. ``equidiff/push-pillar-v0``, ``equidiff/lift-v0``). robosuite is imported only when a
robosuite task is made. MUJOCO_GL defaults to ``egl`` (headless rendering); set it before importing to choose another
backend.
"""
from __future__ import annotations

from typing import Any

from equidiff_relaxed.envs.common import SYMMETRY_CENTER, default_mujoco_gl

default_mujoco_gl()

import gymnasium as gym  # noqa: E402

from equidiff_relaxed.envs.planar_push import PlanarPushEnv  # noqa: E402
from equidiff_relaxed.envs.push_expert import ExpertConfig, PushExpert  # noqa: E402
from equidiff_relaxed.envs.push_scene import VARIANTS, PushGeometry  # noqa: E402
from equidiff_relaxed.errors import UserError  # noqa: E402

PUSH_ENVS = tuple(VARIANTS)
ROBOSUITE_ENVS = ("lift", "stack")  # keep in step with robosuite_tasks.TASKS (not imported here: robosuite is optional)
ENV_NAMES = PUSH_ENVS + ROBOSUITE_ENVS

for _name in PUSH_ENVS:
    _id = f"equidiff/{_name}-v0"
    if _id not in gym.registry:
        gym.register(_id, entry_point="equidiff_relaxed.envs.planar_push:PlanarPushEnv", kwargs={"variant": _name})
for _name in ROBOSUITE_ENVS:
    _id = f"equidiff/{_name}-v0"
    if _id not in gym.registry:
        gym.register(_id, entry_point="equidiff_relaxed.envs.robosuite_tasks:RobosuiteTaskEnv", kwargs={"task": _name})


def make_env(name: str, **kwargs: Any) -> gym.Env:
    """The env called ``name`` (see ENV_NAMES); unknown names raise a UserError listing them."""
    if name in PUSH_ENVS:
        return PlanarPushEnv(variant=name, **kwargs)
    if name in ROBOSUITE_ENVS:
        from equidiff_relaxed.envs.robosuite_tasks import RobosuiteTaskEnv

        return RobosuiteTaskEnv(task=name, **kwargs)
    raise UserError(f"unknown env {name!r} (known: {', '.join(ENV_NAMES)})")


def make_expert(env: gym.Env, noise_std: float = 0.0, **kwargs: Any) -> Any:
    """The scripted expert for ``env`` (``reset(rng)`` then ``act(obs)``); ``noise_std`` in metres (and radians)."""
    if isinstance(env, PlanarPushEnv):
        return PushExpert(env.geom, env.variant, ExpertConfig(noise_std=noise_std, **kwargs))
    from equidiff_relaxed.envs.robosuite_expert import PickExpertConfig, PickPlaceExpert

    return PickPlaceExpert(env, PickExpertConfig(noise_std=noise_std, **kwargs))  # type: ignore[arg-type]


__all__ = ["ENV_NAMES", "PUSH_ENVS", "ROBOSUITE_ENVS", "SYMMETRY_CENTER", "PlanarPushEnv", "PushExpert",
           "ExpertConfig", "PushGeometry", "make_env", "make_expert"]
