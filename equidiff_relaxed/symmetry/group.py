"""The symmetry group of a task, as one object: C_N (rotations by 2 pi k / N) or D_N (also reflections across an
axis through the symmetry centre), and its subgroups by restriction (C_M < C_N, D_M < D_N for M | N).

It owns the escnn group and gspace, the escnn representation of every declared field (built from the planar
blocks of :data:`~equidiff_relaxed.symmetry.representations.REPRESENTATIONS`: the same table the data action
reads, so the network's representation and the action on data cannot disagree — a test checks every element), the
action of each element on data, and the elements used for augmentation and diagnostics. Models, the policy, and
diagnostics ask it instead of assuming C_N.

Element h of the group is ``elements[h]``, escnn's order, which is also the index of a regular field's entries
(``regular(g) e_h = e_{g h}``): for C_N, h = k is the rotation by 2 pi k / N; for D_N, h = k (k < N) the rotation
and h = N + k the reflection followed by that rotation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import torch

from equidiff_relaxed._escnn import build_from_discrete_group_representation, egroup, enn, gspaces

from equidiff_relaxed.symmetry.actions import act_on_block, transform_field
from equidiff_relaxed.symmetry.representations import BLOCK_SIZES, SubField
from equidiff_relaxed.symmetry.rotations import Array


@lru_cache(maxsize=None)
def _escnn_group(order: int, reflections: bool) -> egroup.Group:
    return egroup.dihedral_group(order) if reflections else egroup.cyclic_group(order)


@lru_cache(maxsize=None)
def _gspace(order: int, reflections: bool) -> gspaces.GSpace:
    """One gspace object per group (escnn builds a new one per call), shared by every field type of a model."""
    return gspaces.no_base_space(_escnn_group(order, reflections))


@dataclass(frozen=True)
class Element:
    """A group element as it acts on the plane: reflect across the axis (if ``reflect``), then rotate by ``phi``."""

    phi: float
    reflect: bool = False


@dataclass(frozen=True)
class SymmetryGroup:
    """C_N (``reflections=False``) or D_N; ``axis``: the reflection axis angle (radians from +x, through the centre;
    set to 0 for C_N).

    Written in configs and policy files as ``"C8"`` / ``"D8"`` (:meth:`parse`, :attr:`name`) plus the axis.
    """

    order: int = 8
    reflections: bool = False
    axis: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.order, int) or isinstance(self.order, bool) or self.order < 1:
            raise ValueError(f"group order must be an integer >= 1, got {self.order!r}")
        if not math.isfinite(float(self.axis)):
            raise ValueError(f"reflection axis must be a finite angle, got {self.axis!r}")
        if not self.reflections:  # an axis means nothing without reflections: C_N groups compare equal
            object.__setattr__(self, "axis", 0.0)

    # ------------------------------------------------------------------ naming
    @classmethod
    def parse(cls, name: str, axis: float = 0.0) -> "SymmetryGroup":
        """``"C8"`` -> C_8, ``"D4"`` -> D_4 (reflection axis ``axis``); ValueError for anything else."""
        text = str(name).strip()
        if len(text) < 2 or text[0] not in "CD" or not text[1:].isdigit():
            raise ValueError(f"unknown group {name!r} (known: C<N> or D<N>, e.g. C8, D8)")
        return cls(int(text[1:]), text[0] == "D", float(axis))

    @property
    def name(self) -> str:
        return f"{'D' if self.reflections else 'C'}{self.order}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "axis": float(self.axis)}

    # ------------------------------------------------------------------ escnn
    @property
    def escnn(self) -> egroup.Group:
        return _escnn_group(self.order, self.reflections)

    @property
    def gspace(self) -> gspaces.GSpace:
        return _gspace(self.order, self.reflections)

    @property
    def size(self) -> int:
        """|G|: N rotations, times 2 with reflections; the length of a regular field."""
        return self.order * (2 if self.reflections else 1)

    def element(self, h: int) -> Element:
        """How element ``h`` (escnn's order, = regular-field index) acts on the plane."""
        if self.reflections:
            flip, phi = self.escnn.elements[h].to("radians")
            return Element(float(phi), bool(flip))
        return Element(float(self.escnn.elements[h].to("radians")))

    @property
    def elements(self) -> list[Element]:
        return [self.element(h) for h in range(self.size)]

    def block_matrix(self, block: str, e: Element) -> np.ndarray:
        """The matrix by which element ``e`` acts on one planar block (see representations.BLOCKS): the data action
        itself (:func:`~equidiff_relaxed.symmetry.actions.act_on_block`) applied to the basis vectors."""
        basis = np.eye(BLOCK_SIZES[block])
        return act_on_block(basis, block, e.phi, e.reflect, self.axis).T  # row i is the image of e_i

    def block_rep(self, block: str) -> egroup.Representation:
        return _block_rep(self, block)

    def field_reps(self, blocks: Sequence[str]) -> list[egroup.Representation]:
        return [self.block_rep(b) for b in blocks]

    def regular_type(self, fields: int) -> enn.FieldType:
        """``fields`` regular fields of this group (size fields * |G|)."""
        gs = self.gspace
        return enn.FieldType(gs, fields * [gs.fibergroup.regular_representation])

    # ------------------------------------------------------------------ subgroups
    def subgroup(self, order: int) -> "SymmetryGroup":
        """C_M < C_N or D_M < D_N (same axis) for M dividing N."""
        if not isinstance(order, int) or order < 1 or self.order % order:
            raise ValueError(f"subgroup order must divide {self.order}, got {order!r}")
        return SymmetryGroup(order, self.reflections, self.axis)

    def subgroup_indices(self, sub: "SymmetryGroup") -> list[int]:
        """Indices h of the elements of ``sub`` (a subgroup from :meth:`subgroup`) in this group."""
        step = self.order // sub.order
        return [h for h in range(self.size) if (h % self.order) % step == 0]

    def coset_index(self, sub: "SymmetryGroup") -> list[int]:
        """For each element h, the index of its right coset K h (K = ``sub``): the classes on which a function w(h)
        must be constant for a layer that scales regular entries by w to stay K-equivariant (w(k^-1 h) = w(h))."""
        G = self.escnn
        members = [G.elements[h] for h in self.subgroup_indices(sub)]
        index = {g: h for h, g in enumerate(G.elements)}
        labels = [-1] * self.size
        n = 0
        for h, g in enumerate(G.elements):
            if labels[h] < 0:
                for k in members:
                    labels[index[k @ g]] = n
                n += 1
        return labels

    # ------------------------------------------------------------------ data
    def act(self, x: Array, fields: str | tuple[SubField, ...], e: Element, center: Sequence[float]) -> Array:
        """Element ``e`` applied to a low-dim field (..., D) carrying ``fields``."""
        return transform_field(x, fields, e.phi, e.reflect, center, self.axis)

    def sample(self, b: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
               continuous: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Random elements for augmentation: angles (b,) and reflection flags (b,) (0/1 floats). ``continuous``:
        any rotation angle (SO(2) or O(2)) instead of the N discrete ones."""
        u = torch.rand(b, generator=generator, device=device)
        phi = u * 2 * math.pi if continuous else torch.floor(u * self.order) * (2 * math.pi / self.order)
        if not self.reflections:
            return phi, torch.zeros(b, device=device)
        flip = (torch.rand(b, generator=generator, device=device) < 0.5).float()
        return phi, flip


@lru_cache(maxsize=None)
def _block_rep(group: SymmetryGroup, block: str) -> egroup.Representation:
    """escnn representation of one planar block. For C_N the irreps the models always used (frequency 1 for N >= 3,
    so existing checkpoints keep their meaning); otherwise built from :meth:`SymmetryGroup.block_matrix`."""
    G = group.escnn
    if block == "trivial" or (block == "sign" and not group.reflections):
        return G.trivial_representation
    if not group.reflections:  # rot2 / rot2_mirrored act alike without reflections
        n = group.order
        if n >= 3:
            return G.irrep(1)
        base = G.irrep(1) if n == 2 else G.trivial_representation  # C2: rotation by pi is -I; C1: identity
        return egroup.directsum([base, base], name=f"rot2_c{n}")
    matrices = {g: group.block_matrix(block, group.element(h)) for h, g in enumerate(G.elements)}
    name = f"{block}_{group.name}_axis{group.axis:.6f}"
    return build_from_discrete_group_representation(matrices, name, G, supported_nonlinearities=[])


__all__ = ["Element", "SymmetryGroup"]
