"""Representation names for declared fields and how a (possibly composite) representation splits a vector.

A low-dim field's last axis is a concatenation of sub-fields, each carrying one representation of the planar
rotation group SO(2) (or a subgroup C_N), e.g. robomimic's 10-D absolute action is ``pos3+rot6d+scalar``:

==========  ====  ==========================================================
rep         dim   action of a rotation g by angle phi about the centre c
==========  ====  ==========================================================
scalar      any   unchanged (gripper, z-height, time): trivial rep
pos2        2     c + R(phi) (p - c): frequency-1 irrep after centring
vec2        2     R(phi) v: frequency-1 irrep
pos3        3     xy as pos2, z unchanged
rot6d       6     R_z(phi) M for the 3x2 matrix M of the first two columns
quat        4     q_z(phi) * q (x, y, z, w order)
angle       1     theta + phi, wrapped to [-pi, pi)
image       -     pixels rotated by phi about the image centre (top-down)
==========  ====  ==========================================================

A composite rep is written ``"pos3+rot6d+scalar"`` or as a list ``[pos3, rot6d, scalar]``. ``scalar`` takes its
width from the field's shape when it is the only sub-field of unknown width; otherwise write ``scalar:2``.
"""
from __future__ import annotations

from dataclasses import dataclass

# Fixed widths; None = any width (scalar) or not a vector rep (image, camera).
# image: a top-down view centred on the symmetry centre (its pixels turn with the layout);
# camera: any other fixed camera (perspective, eye-in-hand): no pixel action, treated as an invariant input.
REPRESENTATIONS: dict[str, int | None] = {
    "scalar": None,
    "pos2": 2,
    "vec2": 2,
    "pos3": 3,
    "rot6d": 6,
    "quat": 4,
    "angle": 1,
    "image": None,
    "camera": None,
}
IMAGE_REPS = ("image", "camera")


@dataclass(frozen=True)
class SubField:
    """One sub-field of a vector: representation ``rep`` on ``[start, start + dim)`` of the last axis."""

    rep: str
    start: int
    dim: int

    @property
    def stop(self) -> int:
        return self.start + self.dim


def _tokens(rep: str | list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(rep, str):
        parts = rep.split("+")
    elif isinstance(rep, (list, tuple)) and all(isinstance(p, str) for p in rep):
        parts = list(rep)
    else:
        raise ValueError(f"representation must be a string or a list of strings, got {rep!r}")
    parts = [p.strip() for p in parts]
    if not parts or any(not p for p in parts):
        raise ValueError(f"empty representation in {rep!r}")
    return parts


def parse_rep(rep: str | list[str] | tuple[str, ...], width: int | None) -> tuple[SubField, ...]:
    """Split a (composite) representation over a vector of ``width`` entries.

    ``width`` is the size of the field's last axis (None for images). Raises ValueError with a readable message
    for unknown names or widths that do not add up.
    """
    parts = _tokens(rep)
    names: list[str] = []
    dims: list[int | None] = []
    for part in parts:
        name, _, count = part.partition(":")
        if name not in REPRESENTATIONS:
            known = ", ".join(REPRESENTATIONS)
            raise ValueError(f"unknown representation {name!r} (known: {known})")
        if count:
            if name != "scalar" or not count.isdigit() or int(count) < 1:
                raise ValueError(f"bad width in {part!r}: only 'scalar:N' with N >= 1 takes a width")
            dims.append(int(count))
        else:
            dims.append(REPRESENTATIONS[name])
        names.append(name)

    for image_rep in IMAGE_REPS:
        if image_rep in names:
            if len(names) != 1:
                raise ValueError(f"'{image_rep}' cannot be combined with other representations")
            return (SubField(image_rep, 0, 0),)
    if width is None:
        raise ValueError(f"representation {rep!r} needs a vector field")

    unknown = [i for i, d in enumerate(dims) if d is None]
    known_total = sum(d for d in dims if d is not None)
    if len(unknown) > 1:
        raise ValueError(f"{rep!r}: more than one 'scalar' of unknown width; write 'scalar:N'")
    if unknown:
        rest = width - known_total
        if rest < 1:
            raise ValueError(f"{rep!r} needs more than {width} entries")
        dims[unknown[0]] = rest
    total = sum(d for d in dims if d is not None)
    if total != width:
        raise ValueError(f"{rep!r} covers {total} entries but the field has {width}")

    fields = []
    start = 0
    for name, dim in zip(names, dims):
        assert dim is not None
        fields.append(SubField(name, start, dim))
        start += dim
    return tuple(fields)


def rep_dim(rep: str | list[str], width: int | None) -> int:
    """Total width covered by ``rep`` (validates it)."""
    return sum(f.dim for f in parse_rep(rep, width))


def format_rep(fields: tuple[SubField, ...]) -> str:
    """Inverse of :func:`parse_rep`: a canonical string such as ``"pos3+rot6d+scalar:1"``."""
    out = []
    for f in fields:
        fixed = REPRESENTATIONS[f.rep]
        out.append(f"{f.rep}:{f.dim}" if fixed is None and f.rep == "scalar" else f.rep)
    return "+".join(out)
