"""Observation windows as the networks take them, for training batches and for inference alike (no Lightning)."""
from __future__ import annotations

import numpy as np
import torch

from equidiff_relaxed.data.shape_meta import ShapeMeta


def window_to_tensors(window: dict[str, np.ndarray], shape_meta: ShapeMeta, batch: bool = False
                      ) -> dict[str, torch.Tensor]:
    """One observation window {key: (To, ...)} (or, with ``batch``, a batch of them {key: (B, To, ...)}) as models
    take it: float32; images uint8 (To, H, W, C) become (To, C, H, W) in [0, 1]. Shared by the training data and the
    policy's own observation history."""
    out = {}
    lead = 2 if batch else 1
    for k, meta in shape_meta.obs.items():
        x = torch.from_numpy(np.ascontiguousarray(window[k]))
        if meta.type == "rgb":
            order = (*range(lead), lead + 2, lead, lead + 1)
            out[k] = x.permute(*order).float().div_(255.0).contiguous()
        else:
            out[k] = x.float()
    return out


__all__ = ["window_to_tensors"]
