"""A tiny untrained plain push policy saved as a checkpoint, for evaluation tests."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from equidiff_relaxed.envs.planar_push import push_shape_meta_dict
from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule


def save_tiny_push_policy(path: str | os.PathLike, env_kwargs: dict[str, Any], n_action_steps: int,
                          nan_weights: bool = False) -> str:
    """Save an untrained plain push policy (T = 8, To = 2, Ta = ``n_action_steps``) recorded with the push env and
    ``env_kwargs``; ``nan_weights`` fills every weight with NaN (a diverged run). Returns the path."""
    torch.manual_seed(0)
    env = {"name": "push", "kwargs": env_kwargs}
    module = DiffusionPolicyModule(model="plain", horizon=8, n_obs_steps=2, n_action_steps=n_action_steps,
                                   down_dims=[8, 16], encoder_hidden=16, encoder_dim=8, n_groups=4, ddim_steps=2,
                                   shape_meta=push_shape_meta_dict(), symmetry_center=[0.0, 0.0], env=env)
    rng = np.random.default_rng(0)
    module.policy.fit_normalizer({k: rng.uniform(-0.3, 0.3, (64, 2))
                                  for k in ("pusher_pos", "puck_pos", "goal_pos", "action")})
    if nan_weights:
        with torch.no_grad():
            for p in module.policy.parameters():
                p.fill_(float("nan"))
    torch.save({"state_dict": {f"policy.{k}": v for k, v in module.policy.state_dict().items()},
                "hyper_parameters": dict(module.hparams)}, path)
    return str(path)
