"""The representation table of declared fields, and how a (possibly composite) representation splits a vector.

A low-dim field's last axis is a concatenation of sub-fields, each carrying one representation of the planar
rotation group SO(2) (or C_N), and of the reflections of O(2) (or D_N), e.g. robomimic's 10-D absolute action is
``pos3+rot6d+scalar``:

==========  ====  ==========================================  =============================================
rep         dim   rotation g by angle phi about the centre c  reflection S across the axis at angle a
==========  ====  ==========================================  =============================================
scalar      any   unchanged (gripper, z-height, time)         unchanged
pos2        2     c + R(phi) (p - c)                          c + S (p - c)
vec2        2     R(phi) v                                    S v
pos3        3     xy as pos2, z unchanged                     xy as pos2, z unchanged
rot6d       6     R_z(phi) M (M: first two matrix columns)    S3 M diag(1, -1): c1 -> S3 c1, c2 -> -S3 c2
quat        4     q_z(phi) * q (x, y, z, w order)             the quaternion of S3 R diag(1, -1, 1)
angle       1     theta + phi, wrapped to [-pi, pi)           2a - theta
image       -     pixels rotated about the image centre       (not supported)
==========  ====  ==========================================  =============================================

S3 = the 3-D mirror across the vertical plane through the axis; a mirrored orientation keeps its frame right-handed
by also mirroring its body y axis (S3 R S3 when a = 0). The table :data:`REPRESENTATIONS` says, per rep, how the
action splits into planar blocks, which is all the networks and the normalizer read.

A composite rep is written ``"pos3+rot6d+scalar"`` or as a list ``[pos3, rot6d, scalar]``. ``scalar`` takes its
width from the field's shape when it is the only sub-field of unknown width; otherwise write ``scalar:2``.
"""
from __future__ import annotations

from dataclasses import dataclass

BLOCKS = ("trivial", "sign", "rot2", "rot2_mirrored")
"""Planar blocks the linear coordinates of a field split into. For a group element g = (rotation phi, reflection
f in {0, 1}) and the reflection S_a across the axis at angle ``a`` through the centre:

- ``trivial`` (1): unchanged;             ``sign`` (1): times (-1)^f;
- ``rot2`` (2): R(phi) S_a^f v;          ``rot2_mirrored`` (2): R(phi) (-S_a)^f v.

Without reflections (C_N, SO(2)) ``sign`` is trivial and ``rot2_mirrored`` is ``rot2``."""


@dataclass(frozen=True)
class RepSpec:
    """How one representation is handled everywhere: this table is read by the data action
    (:mod:`~equidiff_relaxed.symmetry.actions`), the networks' escnn types (:mod:`~equidiff_relaxed.nn.fields`) and
    the symmetric normalizer.

    ``dim``: fixed width (None: any width for ``scalar``; no vector for images). ``blocks``: the :data:`BLOCKS` of
    its linear coordinates in order (``scalar``: one ``trivial`` per entry). ``coordinates``: ``linear`` (the blocks
    act on the stored values), ``quat`` / ``angle`` (stored values are converted first: to the rot6d columns, to
    (cos, sin); such fields cannot be predicted as actions), ``image`` (a top-down view: its pixels turn), ``camera``
    (a fixed view: an invariant, symmetry-breaking input), ``camera_inhand`` (a camera on the gripper: it turns with
the task, so its pixels stay the same: an invariant input). ``position``: the first block is a point about the symmetry centre.
    ``normalization`` (symmetric normalizer): ``radius`` (xy about the centre by one radius, the rest by limits),
    ``bound`` (one norm bound), ``unchanged``, ``limits``.
    """

    dim: int | None
    blocks: tuple[str, ...] = ()
    coordinates: str = "linear"
    position: bool = False
    normalization: str = "limits"


_ROT6D_BLOCKS = ("rot2", "trivial", "rot2_mirrored", "sign")  # columns c1 -> S c1, c2 -> -S c2 (mirrored frame)
REPRESENTATIONS: dict[str, RepSpec] = {
    "scalar": RepSpec(None),
    "pos2": RepSpec(2, ("rot2",), position=True, normalization="radius"),
    "vec2": RepSpec(2, ("rot2",), normalization="bound"),
    "pos3": RepSpec(3, ("rot2", "trivial"), position=True, normalization="radius"),
    "rot6d": RepSpec(6, _ROT6D_BLOCKS, normalization="unchanged"),
    "quat": RepSpec(4, _ROT6D_BLOCKS, coordinates="quat", normalization="unchanged"),
    "angle": RepSpec(1, ("rot2",), coordinates="angle", normalization="unchanged"),
    "image": RepSpec(None, coordinates="image", normalization="unchanged"),
    "camera": RepSpec(None, coordinates="camera", normalization="unchanged"),
    "camera_inhand": RepSpec(None, coordinates="camera_inhand", normalization="unchanged"),
}
BLOCK_SIZES = {"trivial": 1, "sign": 1, "rot2": 2, "rot2_mirrored": 2}
IMAGE_REPS = ("image", "camera", "camera_inhand")
CAMERA_REPS = ("camera", "camera_inhand")  # images that do not turn with the task: invariant inputs


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
            dims.append(REPRESENTATIONS[name].dim)
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
        fixed = REPRESENTATIONS[f.rep].dim
        out.append(f"{f.rep}:{f.dim}" if fixed is None and f.rep == "scalar" else f.rep)
    return "+".join(out)
