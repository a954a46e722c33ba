"""Actions relative to the current position of an observed point (e.g. the pusher), still equivariant.

Absolute position targets make the useful signal small next to the workspace (target - pusher is ~0.09 of the
normalised range in the push tasks). With ``relative_to="pusher_pos"`` the policy predicts, for every step of the
chunk, the target minus the reference point's position at "now" (observation step To-1). A difference of two
``pos2`` points is a ``vec2`` (it rotates but does not move with the centre), so the network still sees a field of
the same C_N representation and the equivariant/relaxed families stay exact. Predictions are converted back to
absolute targets for the env. Padded ("hold") steps past an episode's end repeat the last absolute target, which is
still the same relative vector from "now", so padding keeps its meaning.

Supported: the reference key is one ``pos2`` or ``pos3`` field and the action has exactly one sub-field of the same
representation (``pos2`` -> ``vec2``; ``pos3`` -> ``vec2+scalar``, its z difference invariant).
"""
from __future__ import annotations

import numpy as np
import torch

from equidiff_relaxed.data.shape_meta import FieldMeta, ShapeMeta
from equidiff_relaxed.symmetry.representations import SubField

_DISPLACEMENT = {"pos2": ("vec2",), "pos3": ("vec2", "scalar")}


class RelativeActions:
    """Converts action chunks between absolute targets and displacements from the reference point at "now"."""

    def __init__(self, shape_meta: ShapeMeta, reference_key: str):
        if reference_key not in shape_meta.low_dim_keys:
            raise ValueError(f"relative_to: {reference_key!r} is not a low-dim observation key "
                             f"(known: {', '.join(shape_meta.low_dim_keys)})")
        ref = shape_meta.obs[reference_key]
        if len(ref.fields) != 1 or ref.fields[0].rep not in _DISPLACEMENT:
            raise ValueError(f"relative_to: {reference_key!r} must be one pos2 or pos3 field, got rep {ref.rep!r}")
        rep = ref.fields[0].rep
        matches = [f for f in shape_meta.action.fields if f.rep == rep]
        if len(matches) != 1:
            raise ValueError(f"relative_to: the action ({shape_meta.action.rep}) must have exactly one {rep} "
                             f"sub-field to take relative to {reference_key!r}")
        self.key, self.sub = reference_key, matches[0]
        fields: list[SubField] = []
        for f in shape_meta.action.fields:
            if f is self.sub:
                fields += [SubField(r, f.start + 2 * i, 2 if r == "vec2" else 1)
                           for i, r in enumerate(_DISPLACEMENT[rep])]
            else:
                fields.append(f)
        a = shape_meta.action
        self.network_meta = FieldMeta(a.key, a.shape, a.type, tuple(fields))

    def reference(self, obs: dict[str, torch.Tensor], n_obs_steps: int) -> torch.Tensor:
        """(B, D) the reference point at "now" from an observation window {key: (B, To, D)} (environment units)."""
        return obs[self.key][:, n_obs_steps - 1]

    def _shift(self, chunk: torch.Tensor, ref: torch.Tensor, sign: float) -> torch.Tensor:
        s = self.sub
        out = chunk.clone()
        out[..., s.start : s.stop] = chunk[..., s.start : s.stop] + sign * ref[:, None, : s.dim].to(chunk.dtype)
        return out

    def to_relative(self, chunk: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """(B, T, A) absolute targets, ref (B, D) -> (B, T, A) displacements (the position sub-field)."""
        return self._shift(chunk, ref, -1.0)

    def to_absolute(self, chunk: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_relative`."""
        return self._shift(chunk, ref, 1.0)

    def fit_samples(self, action: np.ndarray, ref: np.ndarray, episode_ends: np.ndarray | None, horizon: int,
                    n_obs_steps: int) -> np.ndarray:
        """Every relative action a training window can hold, (M, A), for fitting the normaliser: per episode, per
        "now" step t and per chunk offset k in [-(To-1), T-To], target[clip(t+k)] - ref[t]. ``action`` (N, A) and
        ``ref`` (N, D) are per-step arrays of concatenated episodes ending at ``episode_ends`` (None: one episode)."""
        ends = np.asarray([len(action)] if episode_ends is None else episode_ends, dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]])
        offsets = np.arange(-(n_obs_steps - 1), horizon - n_obs_steps + 1)
        out = []
        s = self.sub
        for a, b in zip(starts, ends):
            t = np.arange(a, b)
            idx = np.clip(t[:, None] + offsets[None], a, b - 1)  # (L, T)
            rel = np.array(action[idx], dtype=np.float64)  # (L, T, A)
            rel[..., s.start : s.stop] -= ref[t][:, None, : s.dim]
            out.append(rel.reshape(-1, action.shape[1]))
        return np.concatenate(out).astype(np.float32)


__all__ = ["RelativeActions"]
