"""``dihedral_equi`` / ``dihedral_relaxed``: the equivariant and relaxed families on D_N, rotations and reflections
across the dataset's reflection axis (``symmetry.reflection_axis``) through the symmetry centre."""
from __future__ import annotations

from equidiff_relaxed.policy.families.base import register
from equidiff_relaxed.policy.families.equivariant import EquivariantFamily
from equidiff_relaxed.policy.families.relaxed import RelaxedFamily

DIHEDRAL_EQUI = register(EquivariantFamily("dihedral_equi", "exactly D_N-equivariant: rotations and reflections",
                                           reflections=True))
DIHEDRAL_RELAXED = register(RelaxedFamily("dihedral_relaxed", "relaxed D_N group convolutions: starts D_N-equivariant",
                                          reflections=True))
