"""Per-key affine normalizer held in model state (a torch module: its state_dict is plain tensors, never pickle).

Each key is normalised as ``y = x * scale + offset`` along its last axis. Modes, fitted on training data:

- ``limits``: each dimension's [min, max] to [-1, 1]; a constant dimension is centred (x - value), not divided.
- ``gaussian``: (x - mean) / std per dimension; a constant dimension is centred only.
- ``identity``: unchanged.
- ``symmetric``: preserves the group action (rotations and reflections). Read from the representation table
  (``REPRESENTATIONS[rep].normalization``): pos2 (and pos3's xy) is centred on the symmetry centre and divided by one
  shared radius for x and y; vec2 is divided by one shared norm bound; rot6d, quat and angle are unchanged; scalar
  parts (and pos3's z) use ``limits``. Hence
  ``normalize(rotate(x, about c)) == rotate(normalize(x), about the origin)``: in normalised space the symmetry
  centre is the origin.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from equidiff_relaxed.symmetry.representations import IMAGE_REPS, REPRESENTATIONS, SubField

MODES = ("limits", "gaussian", "identity", "symmetric")
_EPS = 1e-6


def _limits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = hi - lo
    const = span < _EPS
    scale = np.where(const, 1.0, 2.0 / np.where(const, 1.0, span))
    offset = np.where(const, -lo, -1.0 - lo * scale)
    return scale, offset


def _gaussian(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x.mean(axis=0), x.std(axis=0)
    const = std < _EPS
    scale = np.where(const, 1.0, 1.0 / np.where(const, 1.0, std))
    return scale, -mean * scale


def _symmetric(x: np.ndarray, fields: tuple[SubField, ...], center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sub-field, as the representation table says (``RepSpec.normalization``)."""
    scale, offset = np.ones(x.shape[1]), np.zeros(x.shape[1])
    for f in fields:
        part = x[:, f.start : f.stop]
        how = REPRESENTATIONS[f.rep].normalization
        if how == "radius":  # the planar point: one radius about the centre; any further entries (z) by limits
            radius = np.linalg.norm(part[:, :2] - center, axis=1).max()
            s = 1.0 / radius if radius > _EPS else 1.0
            scale[f.start : f.start + 2] = s
            offset[f.start : f.start + 2] = -center * s
            if f.dim > 2:
                scale[f.start + 2 : f.stop], offset[f.start + 2 : f.stop] = _limits(part[:, 2:])
        elif how == "bound":
            bound = np.linalg.norm(part, axis=1).max()
            scale[f.start : f.stop] = 1.0 / bound if bound > _EPS else 1.0
        elif how == "limits":
            scale[f.start : f.stop], offset[f.start : f.stop] = _limits(part)
        elif how != "unchanged" or REPRESENTATIONS[f.rep].coordinates in IMAGE_REPS:
            raise ValueError(f"symmetric mode does not apply to representation {f.rep!r}")
    return scale, offset


class FieldNormalizer(nn.Module):
    """Affine map for one key; buffers ``scale`` and ``offset`` have shape (D,) for a last axis of size D."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("offset", torch.zeros(dim))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype) + self.offset.to(x.dtype)

    def unnormalize(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.offset.to(y.dtype)) / self.scale.to(y.dtype)


class Normalizer(nn.Module):
    """Normalizers for several keys. ``fit`` from data; ``normalize``/``unnormalize`` dicts of (..., D) tensors.

    Loading a state_dict creates the per-key entries it finds, so a fresh ``Normalizer()`` inside a model can load a
    checkpoint without knowing the keys in advance.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fields = nn.ModuleDict()

    def fit(
        self,
        data: Mapping[str, np.ndarray | torch.Tensor],
        modes: Mapping[str, str] | str = "limits",
        reps: Mapping[str, tuple[SubField, ...]] | None = None,
        center: Any = (0.0, 0.0),
    ) -> "Normalizer":
        """Fit each key of ``data`` ((N, D) or (N, ..., D) samples) with its mode (a dict or one mode for all).

        ``reps`` (key -> parsed representation, from shape_meta) is needed for keys in ``symmetric`` mode;
        ``center`` is the symmetry centre (world xy) for their positions.
        """
        for key, value in data.items():
            mode = modes if isinstance(modes, str) else modes.get(key, "limits")
            if mode not in MODES:
                raise ValueError(f"unknown normalizer mode {mode!r} for {key!r} (known: {', '.join(MODES)})")
            if "." in key:
                raise ValueError(f"normalizer keys cannot contain '.': {key!r}")
            x = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            x = x.reshape(-1, x.shape[-1]).astype(np.float64)
            if not np.isfinite(x).all():
                raise ValueError(f"{key!r} contains NaN or inf")
            if mode == "limits":
                scale, offset = _limits(x)
            elif mode == "gaussian":
                scale, offset = _gaussian(x)
            elif mode == "identity":
                scale, offset = np.ones(x.shape[1]), np.zeros(x.shape[1])
            else:
                if reps is None or key not in reps:
                    raise ValueError(f"symmetric mode for {key!r} needs its representation (shape_meta)")
                scale, offset = _symmetric(x, reps[key], np.asarray(center, dtype=np.float64))
            field = FieldNormalizer(x.shape[1])
            field.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
            field.offset.copy_(torch.as_tensor(offset, dtype=torch.float32))
            self.fields[key] = field
        return self

    def __contains__(self, key: str) -> bool:
        return key in self.fields

    def _field(self, key: str) -> FieldNormalizer:
        if key not in self.fields:
            raise KeyError(f"normalizer has no entry for {key!r} (has: {', '.join(self.fields) or 'none'})")
        return self.fields[key]  # type: ignore[return-value]

    def normalize(self, x: Mapping[str, torch.Tensor] | torch.Tensor, key: str | None = None) -> Any:
        """Normalise a dict of tensors (keys without an entry pass through) or one tensor for ``key``."""
        if key is not None:
            return self._field(key).normalize(x)  # type: ignore[arg-type]
        return {k: self.fields[k].normalize(v) if k in self.fields else v for k, v in x.items()}  # type: ignore[union-attr]

    def unnormalize(self, y: Mapping[str, torch.Tensor] | torch.Tensor, key: str | None = None) -> Any:
        """Inverse of :meth:`normalize`."""
        if key is not None:
            return self._field(key).unnormalize(y)  # type: ignore[arg-type]
        return {k: self.fields[k].unnormalize(v) if k in self.fields else v for k, v in y.items()}  # type: ignore[union-attr]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):  # type: ignore[no-untyped-def]
        # Create the per-key entries named in the state dict before torch loads the children.
        head = prefix + "fields."
        for name, tensor in state_dict.items():
            if name.startswith(head) and name.endswith(".scale"):
                key = name[len(head) : -len(".scale")]
                if key not in self.fields:
                    self.fields[key] = FieldNormalizer(tensor.shape[0])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
