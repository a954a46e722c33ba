"""Planar rotation symmetry: representations of declared fields, their group actions, and orientation regions."""
from equidiff_relaxed.symmetry.representations import (
    REPRESENTATIONS,
    SubField,
    parse_rep,
    rep_dim,
)
from equidiff_relaxed.symmetry.actions import rotate_field, rotate_image
from equidiff_relaxed.symmetry.regions import region_bounds, region_of
from equidiff_relaxed.symmetry.rotations import wrap_to_2pi, wrap_to_pi
from equidiff_relaxed.symmetry import rotations

__all__ = [
    "REPRESENTATIONS",
    "SubField",
    "parse_rep",
    "rep_dim",
    "rotate_field",
    "rotate_image",
    "region_bounds",
    "region_of",
    "wrap_to_2pi",
    "wrap_to_pi",
    "rotations",
]
