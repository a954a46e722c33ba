"""Declared fields (shape_meta) as escnn representations of the rotation group C_N.

After the symmetric normalizer (planar positions centred on the symmetry centre) every supported representation
acts linearly, so a low-dim field becomes a direct sum of C_N representations:

- pos2, vec2 -> the 2-D rotation representation ``rot2`` (escnn's frequency-1 irrep for N >= 3);
- pos3 -> rot2 + trivial; rot6d -> (rot2 + trivial) x 2 (each column); scalar -> trivial per entry;
- quat -> converted to rot6d first (a quaternion is a double cover: no linear C_N action);
- angle -> (cos, sin) as rot2 (observations only: it cannot be mapped back linearly).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import escnn.group as egroup
    from escnn import gspaces
    from escnn import nn as enn

from equidiff_relaxed.data.shape_meta import FieldMeta

# representation names in the order they appear after conversion; "rot2" = 2-D rotation, "trivial" = 1-D invariant
_EXPANSION = {
    "pos2": ["rot2"], "vec2": ["rot2"], "pos3": ["rot2", "trivial"],
    "rot6d": ["rot2", "trivial", "rot2", "trivial"], "quat": ["rot2", "trivial", "rot2", "trivial"],
    "angle": ["rot2"],
}


def cyclic_group(order: int) -> egroup.CyclicGroup:
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"group order must be an integer >= 1, got {order!r}")
    return egroup.cyclic_group(order)


def rot2_rep(G: egroup.Group) -> egroup.Representation:
    """2-D representation of C_N in which the generator acts as the rotation R(2pi/N)."""
    n = G.order()
    if n >= 3:
        return G.irrep(1)
    base = G.irrep(1) if n == 2 else G.trivial_representation  # C2: rotation by pi is -I; C1: identity
    return egroup.directsum([base, base], name=f"rot2_c{n}")


def no_base_space(G: egroup.Group) -> gspaces.GSpace:
    return gspaces.no_base_space(G)


def regular_type(gspace: gspaces.GSpace, fields: int) -> enn.FieldType:
    return enn.FieldType(gspace, fields * [gspace.fibergroup.regular_representation])


def _quat_to_rot6d(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) (x, y, z, w) unit quaternion -> (..., 6) first two rotation-matrix columns."""
    x, y, z, w = q.unbind(-1)
    c1 = torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)], -1)
    c2 = torch.stack([2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w)], -1)
    return torch.cat([c1, c2], -1)


@dataclass
class IrrepLayout:
    """How one field maps to a direct sum of C_N representations (see the module docstring)."""

    meta: FieldMeta
    names: list[str]  # "rot2" / "trivial" per block, in order

    @classmethod
    def of(cls, meta: FieldMeta, invertible: bool = False) -> "IrrepLayout":
        """``invertible`` (actions): refuse quat / angle, so :meth:`to_irreps` is the identity on coordinates and a
        prediction in the direct sum is the action itself."""
        names: list[str] = []
        for f in meta.fields:
            if f.rep == "scalar":
                names += ["trivial"] * f.dim
            elif f.rep in _EXPANSION:
                if invertible and f.rep in ("quat", "angle"):
                    raise ValueError(f"{meta.key}: '{f.rep}' has no linear rotation action to predict; use rot6d / vec2")
                names += _EXPANSION[f.rep]
            else:
                raise ValueError(f"{meta.key}: representation {f.rep!r} is not a low-dim field")
        return cls(meta, names)

    @property
    def size(self) -> int:
        return sum(2 if n == "rot2" else 1 for n in self.names)

    def representations(self, G: egroup.Group) -> list[egroup.Representation]:
        return [rot2_rep(G) if n == "rot2" else G.trivial_representation for n in self.names]

    def to_irreps(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) normalised field -> (..., size) coordinates of the direct sum."""
        parts = []
        for f in self.meta.fields:
            v = x[..., f.start : f.stop]
            if f.rep == "quat":
                v = _quat_to_rot6d(v)
            elif f.rep == "angle":
                v = torch.cat([torch.cos(v), torch.sin(v)], -1)
            parts.append(v)
        return torch.cat(parts, -1)


__all__ = ["IrrepLayout", "cyclic_group", "rot2_rep", "no_base_space", "regular_type"]
