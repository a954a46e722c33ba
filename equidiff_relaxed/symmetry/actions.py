"""The action of planar rotations and reflections on every declared field type — implemented here once, read
everywhere else.

A group element g = R(phi) S^f (a reflection across the axis at angle ``axis`` through the symmetry centre when
f = 1, then a rotation by ``phi``, radians counter-clockwise from above, about the centre ``center``, world xy) acts
on a field as its representation says: :data:`~equidiff_relaxed.symmetry.representations.REPRESENTATIONS` is read
here, no list of representation names is repeated.
All functions accept numpy arrays or torch tensors and return a new array of the same kind; inputs are not modified.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from equidiff_relaxed.symmetry.representations import BLOCK_SIZES, IMAGE_REPS, REPRESENTATIONS, SubField, parse_rep
from equidiff_relaxed.symmetry.rotations import (
    Array, as_angle, quat_multiply, quat_z, reflect_xy, rotate_xy, wrap_to_pi,
)


def _per_sample(value: Any, like: Array) -> Array:
    """A scalar or per-sample array (broadcastable to the batch shape) as ``like``'s kind, with a trailing axis of 1
    when it is an array, so it broadcasts over the field's last axis."""
    v = as_angle(value, like)
    return v[..., None] if v.ndim else v


def _mask(reflect: Any, like: Array) -> Array | None:
    """``reflect`` (bool or 0/1 array broadcastable to the batch shape) as a 0/1 float array with a trailing axis of
    1, or None when it is a plain False (nothing reflected: no mirror image is computed at all)."""
    if isinstance(reflect, (bool, int)) and not isinstance(reflect, torch.Tensor):
        return as_angle(1.0, like) if reflect else None
    return _per_sample(reflect, like)


def _choose(mask: Array | None, mirrored: Callable[[], Array], plain: Array) -> Array:
    """``mirrored()`` where the mask is 1, ``plain`` where it is 0 (exact: the mask is 0 or 1); ``mirrored`` is only
    called when something may be reflected."""
    return plain if mask is None else mask * mirrored() + (1 - mask) * plain


def _act_on_block(v: Array, block: str, phi: Any, mask: Array | None, axis: float,
                  center: Sequence[float]) -> Array:
    """R(phi) S_a^f on one planar block ``v`` (..., size) about ``center`` (see representations.BLOCKS)."""
    if block == "trivial":
        return v
    if block == "sign":
        return _choose(mask, lambda: -v, v)
    if block == "rot2":
        return rotate_xy(_choose(mask, lambda: reflect_xy(v, axis, center), v), phi, center)
    if block == "rot2_mirrored":  # -S_a about the centre: c - S_a (v - c)
        mirrored = lambda: 2 * as_angle(center, v) - reflect_xy(v, axis, center)  # noqa: E731
        return rotate_xy(_choose(mask, mirrored, v), phi, center)
    raise ValueError(f"unknown block {block!r}")


def act_on_block(v: Array, block: str, phi: float, reflect: bool, axis: float) -> Array:
    """The group element (reflect across ``axis`` if ``reflect``, then rotate by ``phi``) on one planar block
    (..., size) about the origin: what :class:`~equidiff_relaxed.symmetry.group.SymmetryGroup` turns into the
    block's matrix, so the networks' representations are this very action."""
    return _act_on_block(v, block, phi, _mask(reflect, v), axis, (0.0, 0.0))


def _act_blocks(x: Array, blocks: tuple[str, ...], phi: Any, mask: Array | None, axis: float,
                center: Sequence[float] | None) -> Array:
    """Apply R(phi) S_a^f block by block; ``center``: the first block is a point about it."""
    parts, start = [], 0
    for i, block in enumerate(blocks):
        c = center if (i == 0 and center is not None) else (0.0, 0.0)
        parts.append(_act_on_block(x[..., start : start + BLOCK_SIZES[block]], block, phi, mask, axis, c))
        start += BLOCK_SIZES[block]
    return _cat(parts, x)


def _mirror_quat(q: Array, axis: float) -> Array:
    """(x, y, z, w) of S3 R diag(1, -1, 1) for the rotation R of ``q``: q_z(a) * m0(q_z(-a) * q), where
    m0(x, y, z, w) = (-x, y, -z, w) is the quaternion of S0 R S0 with S0 = diag(1, -1, 1)."""
    local = quat_multiply(quat_z(-axis, q[..., 0]), q)
    m0 = local * as_angle([-1.0, 1.0, -1.0, 1.0], q)
    return quat_multiply(quat_z(axis, q[..., 0]), m0)


def _transform_subfield(x: Array, rep: str, phi: Any, mask: Array | None, axis: float,
                        center: Sequence[float]) -> Array:
    """Apply the element (rotation ``phi`` after the reflection where ``mask`` is 1) to one sub-field (..., dim)."""
    spec = REPRESENTATIONS[rep]
    if spec.coordinates == "quat":
        return quat_multiply(quat_z(phi, x[..., 0]), _choose(mask, lambda: _mirror_quat(x, axis), x))
    if spec.coordinates == "angle":
        return wrap_to_pi(_choose(mask, lambda: 2 * axis - x, x) + _per_sample(phi, x))
    if spec.coordinates != "linear":
        raise ValueError(f"no vector action for representation {rep!r}")
    if rep == "scalar":
        return x
    return _act_blocks(x, spec.blocks, phi, mask, axis, center if spec.position else None)


def _cat(parts: list[Array], like: Array) -> Array:
    return torch.cat(parts, dim=-1) if isinstance(like, torch.Tensor) else np.concatenate(parts, axis=-1)


def transform_field(
    x: Array,
    rep: str | list[str] | tuple[SubField, ...],
    phi: Any,
    reflect: Any = False,
    center: Sequence[float] = (0.0, 0.0),
    axis: float = 0.0,
) -> Array:
    """Apply the group element g = R(phi) S^f (reflect first, across the axis at angle ``axis`` through ``center``,
    then rotate by ``phi`` about ``center``) to a low-dim field ``x`` of shape (..., D).

    ``rep`` is the field's (composite) representation, e.g. ``"pos3+rot6d+scalar"``, or already parsed sub-fields.
    ``phi`` and ``reflect`` (bool / 0-1) are scalars or arrays broadcastable to ``x.shape[:-1]`` (one per sample).
    """
    fields = rep if isinstance(rep, tuple) else parse_rep(rep, x.shape[-1])
    if fields and fields[0].rep in IMAGE_REPS:
        raise ValueError("use rotate_image for top-down image fields (camera images do not turn)")
    mask = _mask(reflect, x)
    parts = [_transform_subfield(x[..., f.start : f.stop], f.rep, phi, mask, float(axis), center) for f in fields]
    return _cat(parts, x)


def rotate_field(
    x: Array,
    rep: str | list[str] | tuple[SubField, ...],
    phi: Any,
    center: Sequence[float] = (0.0, 0.0),
) -> Array:
    """Apply the rotation by ``phi`` about ``center`` to a low-dim field ``x`` of shape (..., D) (see
    :func:`transform_field`, of which this is the reflection-free case)."""
    return transform_field(x, rep, phi, False, center)


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
