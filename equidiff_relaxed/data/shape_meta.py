"""shape_meta: the one place where the symmetry of every observation and action field is declared.

::

    obs:
      pusher_pos: {shape: [2], type: low_dim, rep: pos2}
      agentview:  {shape: [3, 88, 88], type: rgb, rep: image}
    action:       {shape: [2], rep: pos2}

Image shapes are given channels-first (C, H, W), as the models see them; the zarr stores images uint8 (T, H, W, C).

An optional ``breaking`` section declares the world-fixed *causes* of a task's symmetry break (Xie & Smidt's
symmetry-breaking objects) with their representation and their constant value, e.g. push-wall's wall::

    breaking:
      wall: {shape: [4], rep: pos2+vec2, value: [-0.073, 0.176, -0.111, -0.046]}   # centre, half-extent

They are not stored per step; a family that takes them (``cause_equi``) feeds them as extra observation fields, so
the network is equivariant in (observation, cause) jointly while the cause stays fixed in the world.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Mapping

import yaml

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.symmetry.representations import CAMERA_REPS, IMAGE_REPS, SubField, format_rep, parse_rep

FIELD_TYPES = ("low_dim", "rgb")


@dataclass(frozen=True)
class FieldMeta:
    """One declared field: ``shape`` per time step, ``type`` (low_dim | rgb) and its parsed representation."""

    key: str
    shape: tuple[int, ...]
    type: str
    fields: tuple[SubField, ...]

    @property
    def rep(self) -> str:
        return format_rep(self.fields)

    @property
    def stored_shape(self) -> tuple[int, ...]:
        """Per-step shape in the zarr: (H, W, C) for rgb, ``shape`` otherwise."""
        if self.type == "rgb":
            c, h, w = self.shape
            return (h, w, c)
        return self.shape

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "type": self.type, "rep": self.rep}


def is_eye_in_hand(key: str) -> bool:
    """Whether an observation key names an eye-in-hand camera (robosuite: ``robot0_eye_in_hand_image``)."""
    return "eye_in_hand" in key.lower()


def _parse_field(key: str, spec: Any, default_type: str, where: str) -> FieldMeta:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}{key}: expected a mapping with shape/type/rep, got {spec!r}")
    unknown = set(spec) - {"shape", "type", "rep"}
    if unknown:
        raise ValueError(f"{where}{key}: unknown entries {sorted(unknown)}")
    shape = spec.get("shape")
    if (
        not isinstance(shape, (list, tuple))
        or not shape
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ValueError(f"{where}{key}: shape must be a list of positive integers, got {shape!r}")
    ftype = spec.get("type", default_type)
    if ftype not in FIELD_TYPES:
        raise ValueError(f"{where}{key}: unknown type {ftype!r} (known: {', '.join(FIELD_TYPES)})")
    if "rep" not in spec:
        raise ValueError(f"{where}{key}: missing 'rep' (its representation, e.g. pos2, scalar, image)")
    if ftype == "rgb":
        if len(shape) != 3 or shape[0] not in (1, 3, 4):
            raise ValueError(f"{where}{key}: rgb shape must be [C, H, W] with C in 1/3/4, got {list(shape)}")
        fields = parse_rep(spec["rep"], None) if spec["rep"] in IMAGE_REPS else ()
        if not fields:
            raise ValueError(f"{where}{key}: rgb fields take rep 'image' (top-down, turns with the layout), "
                             f"'camera' (fixed camera, invariant input) or 'camera_inhand' (eye-in-hand camera, "
                             f"invariant input), got {spec['rep']!r}")
        if spec["rep"] == "image" and is_eye_in_hand(key):
            raise ValueError(f"{where}{key}: an eye-in-hand camera moves with the gripper, so its pixels do not turn "
                             f"with the task; declare rep 'camera_inhand' (invariant features), not 'image'")
    else:
        if len(shape) != 1:
            raise ValueError(f"{where}{key}: low_dim shape must be one number, e.g. [2], got {list(shape)}")
        fields = parse_rep(spec["rep"], shape[0])
        if fields[0].rep in IMAGE_REPS:
            raise ValueError(f"{where}{key}: rep {fields[0].rep!r} needs type rgb")
    return FieldMeta(key=key, shape=tuple(shape), type=ftype, fields=fields)


def _parse_breaking(key: str, spec: Any) -> tuple[FieldMeta, tuple[float, ...]]:
    if not isinstance(spec, Mapping) or "value" not in spec:
        raise ValueError(f"breaking.{key}: expected a mapping with shape/rep/value")
    value = spec["value"]
    meta = _parse_field(key, {k: v for k, v in spec.items() if k != "value"}, "low_dim", "breaking.")
    if meta.type != "low_dim":
        raise ValueError(f"breaking.{key}: must be low_dim")
    if (not isinstance(value, (list, tuple)) or len(value) != meta.shape[0]
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise ValueError(f"breaking.{key}: value must be {meta.shape[0]} finite numbers, got {value!r}")
    return meta, tuple(float(v) for v in value)


@dataclass(frozen=True)
class ShapeMeta:
    """Parsed shape_meta: ordered observation fields, the action field, and the declared world-fixed causes of the
    symmetry break (``breaking``: key -> (field, constant value))."""

    obs: dict[str, FieldMeta]
    action: FieldMeta
    breaking: dict[str, tuple[FieldMeta, tuple[float, ...]]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, source: str | PathLike | None = None) -> "ShapeMeta":
        """Parse and validate; problems raise :class:`UserError` naming ``source`` (a file) when given."""
        try:
            if not isinstance(d, Mapping) or "obs" not in d or "action" not in d:
                raise ValueError("shape_meta needs 'obs' and 'action' entries")
            if not isinstance(d["obs"], Mapping) or not d["obs"]:
                raise ValueError("shape_meta 'obs' must map at least one key to its spec")
            obs = {str(k): _parse_field(str(k), v, "low_dim", "obs.") for k, v in d["obs"].items()}
            action = _parse_field("action", d["action"], "low_dim", "")
            if action.type != "low_dim":
                raise ValueError("action must be low_dim")
            breaking = d.get("breaking") or {}
            if not isinstance(breaking, Mapping):
                raise ValueError("shape_meta 'breaking' must map names to {shape, rep, value}")
            causes = {str(k): _parse_breaking(str(k), v) for k, v in breaking.items()}
            clash = sorted(set(causes) & set(obs))
            if clash:
                raise ValueError(f"breaking names {clash} are observation keys too")
        except ValueError as err:
            raise UserError(f"bad shape_meta: {err}", source) from None
        return cls(obs=obs, action=action, breaking=causes)

    @classmethod
    def load(cls, path: str | PathLike) -> "ShapeMeta":
        """Read a YAML file holding shape_meta (at the top level or under a ``shape_meta`` key)."""
        try:
            with open(path) as f:
                d = yaml.safe_load(f)
        except OSError as err:
            raise UserError(f"cannot read: {err.strerror}", path) from None
        except yaml.YAMLError as err:
            raise UserError(f"not valid YAML ({str(err).splitlines()[0]})", path) from None
        if isinstance(d, Mapping) and "shape_meta" in d:
            d = d["shape_meta"]
        return cls.from_dict(d, source=path)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"obs": {k: v.to_dict() for k, v in self.obs.items()}, "action": self.action.to_dict()}
        if self.breaking:
            out["breaking"] = {k: {**m.to_dict(), "value": list(v)} for k, (m, v) in self.breaking.items()}
        return out

    @property
    def low_dim_keys(self) -> list[str]:
        return [k for k, v in self.obs.items() if v.type == "low_dim"]

    @property
    def rgb_keys(self) -> list[str]:
        return [k for k, v in self.obs.items() if v.type == "rgb"]

    @property
    def top_down_keys(self) -> list[str]:
        """rgb keys with rep 'image': their pixels turn with the layout (exactly for quarter turns)."""
        return [k for k, v in self.obs.items() if v.type == "rgb" and v.fields[0].rep == "image"]

    @property
    def camera_keys(self) -> list[str]:
        """rgb keys whose images do not turn with the task: rep 'camera' (fixed cameras, symmetry-breaking) and
        'camera_inhand' (eye-in-hand cameras, truly invariant); both are invariant inputs."""
        return [k for k, v in self.obs.items() if v.type == "rgb" and v.fields[0].rep in CAMERA_REPS]

    @property
    def inhand_keys(self) -> list[str]:
        """rgb keys with rep 'camera_inhand' (encoded by a CNN with spatial softmax, see nn.encoders)."""
        return [k for k, v in self.obs.items() if v.type == "rgb" and v.fields[0].rep == "camera_inhand"]

    def array_problems(self, shapes: Mapping[str, tuple[int, ...]], action_key: str = "action") -> list[str]:
        """One line per declared key that is missing from ``shapes`` (key -> per-step stored shape) or stored with
        another shape; empty when every declared key matches."""
        wanted = {**{k: v for k, v in self.obs.items()}, action_key: self.action}
        problems = []
        for key, meta in wanted.items():
            if key not in shapes:
                have = ", ".join(sorted(shapes)) or "none"
                problems.append(f"shape_meta declares {key!r} but the data has no such key (keys: {have})")
            elif tuple(shapes[key]) != meta.stored_shape:
                problems.append(f"{key!r} is stored with per-step shape {tuple(shapes[key])} but shape_meta declares "
                                f"{meta.stored_shape}" + (" (H, W, C)" if meta.type == "rgb" else ""))
        return problems

    def check_arrays(self, shapes: Mapping[str, tuple[int, ...]], source: str | PathLike | None = None,
                     action_key: str = "action") -> None:
        """Check that every declared key exists in ``shapes`` (key -> per-step stored shape) and matches: a
        :class:`UserError` naming ``source`` and the first problem of :meth:`array_problems`."""
        problems = self.array_problems(shapes, action_key)
        if problems:
            raise UserError(problems[0], source)
