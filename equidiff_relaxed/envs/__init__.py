"""Simulated tasks: planar push on MuJoCo (push, push-pillar, push-drift), robosuite Lift and Stack (with the
``[robosuite]`` extra), and their scripted experts, each registered in :mod:`equidiff_relaxed.envs.registry`.

``make_env(name, **kwargs)`` builds an env by name; the same envs are registered with gymnasium as
``equidiff/<name>-v0`` (e.g. ``equidiff/push-pillar-v0``, ``equidiff/lift-v0``). robosuite is imported only when a
robosuite task is made. MUJOCO_GL defaults to ``egl`` (headless rendering); set it before importing to choose another
backend.
"""
from __future__ import annotations

from equidiff_relaxed.envs.common import SYMMETRY_CENTER, default_mujoco_gl

default_mujoco_gl()

# The built-in envs register themselves on import, push first (the order of failure-table columns).
from equidiff_relaxed.envs import planar_push, robosuite  # noqa: E402,F401
from equidiff_relaxed.envs.registry import (EnvSpec, env_names, get_env_spec, make_env, make_expert,  # noqa: E402
                                            register_env)

__all__ = ["SYMMETRY_CENTER", "EnvSpec", "env_names", "get_env_spec", "make_env", "make_expert", "register_env"]
