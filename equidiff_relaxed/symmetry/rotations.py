"""Rotation helpers that work on numpy arrays and torch tensors alike (same code path, chosen by input type).

Angles are in radians, counter-clockwise seen from above (+z). Quaternions are (x, y, z, w), scalar last, as in
robosuite / robomimic and scipy. ``phi`` may be a float or an array broadcastable to the batch shape ``x.shape[:-1]``.
"""
from __future__ import annotations

import math
from typing import Any, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


def _xp(x: Array) -> Any:
    return torch if isinstance(x, torch.Tensor) else np


def as_angle(phi: Any, like: Array) -> Array:
    """``phi`` as an array of ``like``'s kind, dtype and device (float or array of angles)."""
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(phi, dtype=like.dtype, device=like.device)
    return np.asarray(phi, dtype=like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64)


def _stack(parts: list[Array], like: Array) -> Array:
    return torch.stack(parts, dim=-1) if isinstance(like, torch.Tensor) else np.stack(parts, axis=-1)


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Dot product over the last axis, keeping it: (..., n), (..., n) -> (..., 1)."""
    return np.matmul(x[..., None, :], y[..., :, None])[..., 0]


def rotate_xy(xy: Array, phi: Any, center: Any = (0.0, 0.0)) -> Array:
    """Rotate points ``xy`` (..., 2) by ``phi`` about ``center`` (2,): c + R(phi) (p - c). Returns a new array."""
    ang = as_angle(phi, xy)
    xp = _xp(xy)
    c, s = xp.cos(ang), xp.sin(ang)
    cx, cy = float(center[0]), float(center[1])
    dx, dy = xy[..., 0] - cx, xy[..., 1] - cy
    return _stack([cx + c * dx - s * dy, cy + s * dx + c * dy], xy)


def reflect_xy(xy: Array, axis: float, center: Any = (0.0, 0.0)) -> Array:
    """Mirror points ``xy`` (..., 2) across the line through ``center`` at angle ``axis``: c + S_a (p - c) with
    S_a = R(2a) diag(1, -1). Returns a new array."""
    c2, s2 = math.cos(2 * axis), math.sin(2 * axis)
    cx, cy = float(center[0]), float(center[1])
    dx, dy = xy[..., 0] - cx, xy[..., 1] - cy
    return _stack([cx + c2 * dx + s2 * dy, cy + s2 * dx - c2 * dy], xy)


def quat_z(phi: Any, like: Array) -> Array:
    """Quaternion (..., 4) (x, y, z, w) of a rotation by ``phi`` about +z, of ``like``'s kind and dtype."""
    ang = as_angle(phi, like)
    xp = _xp(like)
    half = ang / 2
    zero = xp.zeros_like(half)
    return _stack([zero, zero, xp.sin(half), xp.cos(half)], like)


def quat_multiply(q1: Array, q2: Array) -> Array:
    """Hamilton product q1 * q2 of (x, y, z, w) quaternions (broadcasting over leading axes)."""
    x1, y1, z1, w1 = (q1[..., i] for i in range(4))
    x2, y2, z2, w2 = (q2[..., i] for i in range(4))
    return _stack(
        [
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        ],
        q1 if isinstance(q1, torch.Tensor) else q2,
    )


def rot6d_to_matrix(r6: Array) -> Array:
    """(..., 6) first two columns [c1; c2] -> (..., 3, 3) rotation matrix (Gram-Schmidt, third = c1 x c2)."""
    xp = _xp(r6)
    a, b = r6[..., 0:3], r6[..., 3:6]
    if xp is torch:
        c1 = torch.nn.functional.normalize(a, dim=-1)
        b = b - (c1 * b).sum(-1, keepdim=True) * c1
        c2 = torch.nn.functional.normalize(b, dim=-1)
        c3 = torch.linalg.cross(c1, c2, dim=-1)
        return torch.stack([c1, c2, c3], dim=-1)
    # norms clamped at 1e-9 (a zero column gives zeros, not NaN); dot products by matmul, which rounds like np.dot
    c1 = a / np.maximum(np.sqrt(_dot(a, a)), 1e-9)
    b = b - _dot(c1, b) * c1
    c2 = b / np.maximum(np.sqrt(_dot(b, b)), 1e-9)
    c3 = np.cross(c1, c2)
    return np.stack([c1, c2, c3], axis=-1)


def matrix_to_rot6d(m: Array) -> Array:
    """(..., 3, 3) rotation matrix -> (..., 6): its first column then its second column."""
    xp = _xp(m)
    cols = [m[..., :, 0], m[..., :, 1]]
    return torch.cat(cols, dim=-1) if xp is torch else np.concatenate(cols, axis=-1)


def wrap_to_pi(theta: Array) -> Array:
    """Wrap angles to [-pi, pi) (numpy or torch): the ``angle`` representation's values."""
    return (theta + math.pi) % (2 * math.pi) - math.pi


def wrap_to_2pi(theta: float | np.ndarray) -> float | np.ndarray:
    """Wrap orientations to [0, 2pi) (numpy; a float for a scalar): the task orientation theta and its regions."""
    out = np.mod(theta, 2 * math.pi)
    # np.mod can return exactly 2pi for tiny negative inputs because of rounding.
    out = np.where(out >= 2 * math.pi, 0.0, out)
    return float(out) if np.ndim(out) == 0 else out
