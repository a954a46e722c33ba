"""The action of a planar rotation on every declared field type — implemented here once, read everywhere else.

A rotation g by angle ``phi`` (radians, counter-clockwise from above) about the symmetry centre ``center`` (world
xy) acts on a field according to its representation (see :mod:`equidiff_relaxed.symmetry.representations`).
All functions accept numpy arrays or torch tensors and return a new array of the same kind; inputs are not modified.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from equidiff_relaxed.symmetry.representations import SubField, parse_rep
from equidiff_relaxed.symmetry.rotations import Array, as_angle, quat_multiply, quat_z, rotate_xy, wrap_to_pi


def _rotate_subfield(x: Array, rep: str, phi: Any, center: Sequence[float]) -> Array:
    """Rotate one sub-field ``x`` (..., dim) carrying ``rep``."""
    if rep == "scalar":
        return x
    if rep == "pos2":
        return rotate_xy(x, phi, center)
    if rep == "vec2":
        return rotate_xy(x, phi)
    if rep == "pos3":
        return _cat([rotate_xy(x[..., 0:2], phi, center), x[..., 2:3]], x)
    if rep == "rot6d":  # columns c1 = x[0:3], c2 = x[3:6]; R_z(phi) M rotates each column's xy
        return _cat(
            [rotate_xy(x[..., 0:2], phi), x[..., 2:3], rotate_xy(x[..., 3:5], phi), x[..., 5:6]], x
        )
    if rep == "quat":
        return quat_multiply(quat_z(phi, x[..., 0]), x)
    if rep == "angle":
        ang = as_angle(phi, x)
        return wrap_to_pi(x + (ang[..., None] if ang.ndim else ang))
    raise ValueError(f"no vector action for representation {rep!r}")


def _cat(parts: list[Array], like: Array) -> Array:
    return torch.cat(parts, dim=-1) if isinstance(like, torch.Tensor) else np.concatenate(parts, axis=-1)


def rotate_field(
    x: Array,
    rep: str | list[str] | tuple[SubField, ...],
    phi: Any,
    center: Sequence[float] = (0.0, 0.0),
) -> Array:
    """Apply the rotation by ``phi`` about ``center`` to a low-dim field ``x`` of shape (..., D).

    ``rep`` is the field's (composite) representation, e.g. ``"pos3+rot6d+scalar"``, or already parsed sub-fields.
    ``phi`` is a float or an array broadcastable to ``x.shape[:-1]`` (one angle per sample).
    """
    fields = rep if isinstance(rep, tuple) else parse_rep(rep, x.shape[-1])
    if fields and fields[0].rep in ("image", "camera"):
        raise ValueError("use rotate_image for top-down image fields (camera images do not turn)")
    parts = [_rotate_subfield(x[..., f.start : f.stop], f.rep, phi, center) for f in fields]
    return _cat(parts, x)


def rotate_image(img: Array, phi: float, channels_last: bool = False) -> Array:
    """Rotate top-down images about their centre by ``phi`` (counter-clockwise as displayed, row 0 at the top).

    ``img``: (..., C, H, W) or, with ``channels_last``, (..., H, W, C); any dtype. The image is assumed to show
    world +x to the right and world +y up, centred on the symmetry centre, so this is the action of the same
    rotation that :func:`rotate_field` applies to positions. Multiples of 90 degrees are exact (a permutation of
    pixels, square images only); other angles use bilinear interpolation with zero fill outside the image.
    """
    h_ax, w_ax = (-3, -2) if channels_last else (-2, -1)
    quarter = phi / (math.pi / 2)
    if abs(quarter - round(quarter)) < 1e-9:
        k = int(round(quarter)) % 4
        if isinstance(img, torch.Tensor):
            return torch.rot90(img, k, dims=(h_ax, w_ax))
        return np.ascontiguousarray(np.rot90(img, k, axes=(h_ax, w_ax)))
    return _rotate_image_bilinear(img, phi, channels_last)


def _rotate_image_bilinear(img: Array, phi: float, channels_last: bool) -> Array:
    is_numpy = not isinstance(img, torch.Tensor)
    t = torch.from_numpy(np.asarray(img)) if is_numpy else img
    dtype = t.dtype
    if channels_last:
        t = t.movedim(-1, -3)
    lead = t.shape[:-3]
    x = t.reshape(-1, *t.shape[-3:]).to(torch.float32)
    c, s = math.cos(phi), math.sin(phi)
    # Output pixel (x, y) in grid_sample's normalised coords (y down) samples the input at (c x - s y, s x + c y).
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=torch.float32, device=x.device)
    grid = torch.nn.functional.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        out = out.round().clamp(info.min, info.max)
    out = out.to(dtype).reshape(*lead, *out.shape[-3:])
    if channels_last:
        out = out.movedim(-3, -1)
    return out.numpy() if is_numpy else out
