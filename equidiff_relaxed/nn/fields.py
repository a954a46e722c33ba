"""Declared fields (shape_meta) as escnn representations of the task's symmetry group (C_N or D_N).

After the symmetric normalizer (planar positions centred on the symmetry centre) every supported representation
acts linearly, so a low-dim field becomes a direct sum of the planar blocks the representation table lists
(:data:`~equidiff_relaxed.symmetry.representations.REPRESENTATIONS`): ``rot2`` (the 2-D rotation/reflection
representation), ``rot2_mirrored``, ``trivial``, ``sign``. The group object
(:class:`~equidiff_relaxed.symmetry.group.SymmetryGroup`) turns each block into an escnn representation. Fields
whose stored values are not linear coordinates are converted first: ``quat`` to its rot6d columns (a quaternion is
a double cover: no linear action), ``angle`` to (cos, sin); both are observations only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from equidiff_relaxed._escnn import egroup

from equidiff_relaxed.data.shape_meta import FieldMeta
from equidiff_relaxed.symmetry.group import SymmetryGroup
from equidiff_relaxed.symmetry.representations import BLOCK_SIZES, IMAGE_REPS, REPRESENTATIONS


def _quat_to_rot6d(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) (x, y, z, w) unit quaternion -> (..., 6) first two rotation-matrix columns."""
    x, y, z, w = q.unbind(-1)
    c1 = torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)], -1)
    c2 = torch.stack([2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w)], -1)
    return torch.cat([c1, c2], -1)


_CONVERT = {  # stored values -> linear coordinates, for the representations that need it
    "quat": _quat_to_rot6d,
    "angle": lambda v: torch.cat([torch.cos(v), torch.sin(v)], -1),
}


@dataclass
class IrrepLayout:
    """How one field maps to a direct sum of planar blocks (see the module docstring)."""

    meta: FieldMeta
    names: list[str]  # one block name per block, in order

    @classmethod
    def of(cls, meta: FieldMeta, invertible: bool = False) -> "IrrepLayout":
        """``invertible`` (actions): refuse fields whose stored values are not linear coordinates (quat, angle), so
        :meth:`to_irreps` is the identity on coordinates and a prediction in the direct sum is the action itself."""
        names: list[str] = []
        for f in meta.fields:
            spec = REPRESENTATIONS[f.rep]
            if spec.coordinates in IMAGE_REPS:
                raise ValueError(f"{meta.key}: representation {f.rep!r} is not a low-dim field")
            if invertible and spec.coordinates != "linear":
                raise ValueError(f"{meta.key}: '{f.rep}' has no linear group action to predict; use rot6d / vec2")
            names += list(spec.blocks) if spec.blocks else ["trivial"] * f.dim
        return cls(meta, names)

    @property
    def size(self) -> int:
        return sum(BLOCK_SIZES[n] for n in self.names)

    def representations(self, group: SymmetryGroup) -> list[egroup.Representation]:
        return group.field_reps(self.names)

    def to_irreps(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) normalised field -> (..., size) coordinates of the direct sum."""
        parts = []
        for f in self.meta.fields:
            v = x[..., f.start : f.stop]
            convert = _CONVERT.get(REPRESENTATIONS[f.rep].coordinates)
            parts.append(convert(v) if convert is not None else v)
        return torch.cat(parts, -1)


__all__ = ["IrrepLayout"]
