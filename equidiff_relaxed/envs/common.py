"""What the simulated envs share: the symmetry centre of their scenes and the headless MuJoCo rendering default.

Imports nothing heavy, so modules call :func:`default_mujoco_gl` before they import mujoco or robosuite.
"""
from __future__ import annotations

import os

SYMMETRY_CENTER = (0.0, 0.0)  # world xy the task layouts turn about: the table centre (push; robosuite's table_offset)


def default_mujoco_gl(backend: str = "egl") -> None:
    """Set ``MUJOCO_GL`` to ``backend`` (headless EGL) unless the user has set it; call before importing mujoco."""
    os.environ.setdefault("MUJOCO_GL", backend)
