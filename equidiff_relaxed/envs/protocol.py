"""What a symmetric task env provides: the contract the push and robosuite envs implement and that demo generation,
evaluation and the dataset tools rely on (instead of reading planar_push.py to learn it).

An env is a gymnasium env whose whole task layout turns with an orientation theta about the symmetry centre:
``reset(seed=..., options={"theta": theta})`` (theta ~ U[0, 2pi) without it, or ``next_theta`` once when set, for
vector envs), and whose ``info`` has ``theta``, ``region`` (of ``n_regions`` equal sectors) and ``is_success``.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from equidiff_relaxed.errors import UserError


@runtime_checkable
class SymmetricTaskEnv(Protocol):
    """The attributes and methods every task env has, besides gymnasium's ``reset`` / ``step`` / ``close``."""

    max_steps: int  # the episode is truncated after this many steps
    n_regions: int  # info["region"] is the sector of theta among this many
    next_theta: float | None  # theta of the next reset without options (set through vector envs' set_attr)

    def shape_meta_dict(self) -> dict[str, Any]:
        """shape_meta (plain dict): every observation and the action with its representation."""

    def dataset_attrs(self) -> dict[str, Any]:
        """Root attrs a dataset of this env records: ``env`` (enough to recreate it) and ``symmetry`` (``center``,
        and ``reflection_axis`` when the task is mirror-symmetric across an axis through the centre)."""

    def get_state(self) -> np.ndarray:
        """The simulator state, enough to restore a step exactly with :meth:`set_state`."""

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state`."""


def task_env(env: gym.Env) -> SymmetricTaskEnv:
    """``env`` (unwrapped) as a :class:`SymmetricTaskEnv`; a UserError naming what is missing otherwise."""
    inner = env.unwrapped
    if not isinstance(inner, SymmetricTaskEnv):
        needed = ["max_steps", "n_regions", "next_theta", "shape_meta_dict", "dataset_attrs", "get_state",
                  "set_state"]
        missing = [name for name in needed if not hasattr(inner, name)]
        raise UserError(f"env {type(inner).__name__} is not a symmetric task env (missing: {', '.join(missing)})")
    return inner


__all__ = ["SymmetricTaskEnv", "task_env"]
