"""DiffusionPolicy: normalizer + observation encoder + denoiser + noise schedulers, one class for every family.

Families (``model``): ``plain`` (MLP/CNN encoder, 1D U-Net), ``equi`` (C_N-equivariant encoder and group-folded
denoiser), ``relaxed`` (the same built from relaxed group-linear layers), ``residual`` (equivariant + residual
pathway). ``group_order`` N picks C_N; a subgroup (C4 of C8, C2) is simply a smaller N.

Training: diffusers DDPMScheduler (100 steps, squaredcos_cap_v2, epsilon prediction). Inference: DDIM with
``ddim_steps`` (default 16). Sample clipping is off: per-coordinate clipping is not rotation equivariant.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler
from torch import nn

from equidiff_relaxed.data.normalizer import Normalizer
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.nn.denoisers import EquivariantDenoiser, PlainDenoiser
from equidiff_relaxed.nn.encoders import EquivariantObsEncoder, PlainObsEncoder
from equidiff_relaxed.nn.group_linear import GroupLinear, group_linear_layers
from equidiff_relaxed.symmetry.actions import rotate_field, rotate_image

FAMILIES = {"plain": None, "equi": "equivariant", "relaxed": "relaxed", "residual": "residual"}
AUGMENTATIONS = (None, "so2", "cn")
RELAX_WHERE = ("all", "encoder", "denoiser")  # which part's group-linear layers are relaxed (or residual)


class DiffusionPolicy(nn.Module):
    def __init__(
        self,
        shape_meta: ShapeMeta,
        model: str = "plain",
        horizon: int = 16,
        n_obs_steps: int = 2,
        n_action_steps: int = 8,
        group_order: int = 8,
        encoder_hidden: int = 256,
        encoder_dim: int = 64,
        encoder_fields: int = 8,
        lift_fields: int = 8,
        down_dims: Sequence[int] = (64, 128, 256),
        kernel_size: int = 5,
        n_groups: int = 8,
        relax_banks: int = 2,
        relax_alpha: float = 1e-3,
        residual_beta: float = 1e-2,
        num_train_timesteps: int = 100,
        ddim_steps: int = 16,
        augment: str | None = None,
        normalizer_mode: str = "symmetric",
        symmetry_center: Sequence[float] = (0.0, 0.0),
        relax_where: str = "all",
    ):
        super().__init__()
        if model not in FAMILIES:
            raise ValueError(f"unknown model {model!r} (known: {', '.join(FAMILIES)})")
        if not isinstance(group_order, int) or group_order < 1:
            raise ValueError(f"group_order must be an integer >= 1, got {group_order!r}")
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {augment!r} (known: so2, cn or null)")
        if relax_where not in RELAX_WHERE:
            raise ValueError(f"unknown relax_where {relax_where!r} (known: {', '.join(RELAX_WHERE)})")
        if ddim_steps < 1 or ddim_steps > num_train_timesteps:
            raise ValueError(f"ddim_steps must be in [1, {num_train_timesteps}], got {ddim_steps}")
        self.meta, self.model_family = shape_meta, model
        self.horizon, self.n_obs_steps, self.n_action_steps = horizon, n_obs_steps, n_action_steps
        self.group_order, self.augment, self.ddim_steps = group_order, augment, ddim_steps
        self.normalizer_mode = normalizer_mode
        self.symmetry_center = tuple(float(c) for c in symmetry_center)
        self.action_dim = shape_meta.action.shape[0]
        self.normalizer = Normalizer()
        kind = FAMILIES[model]
        if kind is None:
            self.encoder: nn.Module = PlainObsEncoder(shape_meta, n_obs_steps, encoder_hidden, encoder_dim)
            self.denoiser: nn.Module = PlainDenoiser(self.action_dim, encoder_dim, down_dims, kernel_size, n_groups)
        else:
            def layer(part: str) -> dict[str, Any]:
                own = kind if relax_where in ("all", part) else "equivariant"
                return dict(kind=own, banks=relax_banks, alpha=relax_alpha, beta=residual_beta)

            self.encoder = EquivariantObsEncoder(shape_meta, n_obs_steps, group_order, 4 * encoder_fields,
                                                 encoder_fields, **layer("encoder"))
            self.denoiser = EquivariantDenoiser(shape_meta.action, encoder_fields, group_order, lift_fields,
                                                down_dims, kernel_size, n_groups, **layer("denoiser"))
        scheduler_cfg = dict(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                             prediction_type="epsilon", clip_sample=False)
        self.train_scheduler = DDPMScheduler(**scheduler_cfg)
        self.infer_scheduler = DDIMScheduler(**scheduler_cfg)

    # ------------------------------------------------------------------ normalisation
    def fit_normalizer(self, data: dict[str, np.ndarray]) -> None:
        """Fit on training data (key -> (N, D) in environment units): low-dim obs and the action."""
        reps = {k: self.meta.obs[k].fields for k in self.meta.low_dim_keys}
        reps["action"] = self.meta.action.fields
        self.normalizer.fit(data, self.normalizer_mode, reps=reps, center=self.symmetry_center)

    def _normalize_obs(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for k in self.meta.obs:
            x = obs[k][:, : self.n_obs_steps]
            out[k] = self.normalizer.normalize(x, k) if k in self.meta.low_dim_keys else x
        return out

    # ------------------------------------------------------------------ training
    def rotate_batch(self, batch: dict[str, Any], phi: torch.Tensor) -> dict[str, Any]:
        """Rotate every declared field of a batch (environment units) by per-sample angles ``phi`` (B,)."""
        c = self.symmetry_center
        obs = {}
        for k, meta in self.meta.obs.items():
            x = batch["obs"][k]
            if k in self.meta.camera_keys:  # a fixed camera: no pixel action (an invariant, symmetry-breaking input)
                obs[k] = x
            elif meta.type == "rgb":
                quarters = torch.round(phi / (math.pi / 2)).long() % 4
                obs[k] = torch.stack([rotate_image(x[i], float(quarters[i]) * math.pi / 2) for i in range(len(x))])
            else:
                obs[k] = rotate_field(x, meta.fields, phi[:, None].to(x.dtype), c)
        act = rotate_field(batch["action"], self.meta.action.fields, phi[:, None].to(batch["action"].dtype), c)
        return {**batch, "obs": obs, "action": act}

    def _augment_angles(self, b: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        u = torch.rand(b, generator=generator, device=device)
        if self.meta.top_down_keys:  # only quarter turns are exact on a pixel grid
            return torch.floor(u * 4) * (math.pi / 2)
        if self.augment == "cn":
            return torch.floor(u * self.group_order) * (2 * math.pi / self.group_order)
        return u * 2 * math.pi

    def compute_loss(self, batch: dict[str, Any], generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoising MSE on a batch {"obs": {k: (B, To, ...)}, "action": (B, T, A)} in environment units."""
        action = batch["action"]
        b = action.shape[0]
        if self.augment is not None:
            batch = self.rotate_batch(batch, self._augment_angles(b, generator, action.device))
            action = batch["action"]
        cond = self.encoder(self._normalize_obs(batch["obs"]), generator)
        x0 = self.normalizer.normalize(action, "action")
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        t = torch.randint(0, self.train_scheduler.config.num_train_timesteps, (b,), generator=generator,
                          device=x0.device)
        noisy = self.train_scheduler.add_noise(x0, noise, t)
        return F.mse_loss(self.denoiser(noisy, t, cond), noise)

    def penalty(self) -> torch.Tensor:
        """Sum of the symmetry-breaking regularisers (relaxed: alpha * sum |w(g) - w(h)|; residual: beta ||W||^2)."""
        total = torch.zeros((), device=next(self.parameters()).device)
        for _, layer in group_linear_layers(self):
            total = total + layer.penalty()
        return total

    def relaxed_layers(self) -> list[tuple[str, GroupLinear]]:
        return [(n, m) for n, m in group_linear_layers(self) if m.kind == "relaxed"]

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample_chunk(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, ddim_steps: int | None = None) -> torch.Tensor:
        """The whole denoised chunk (B, T, A) in environment units. ``noise`` (B, T, A) fixes the initial sample
        (in normalised action space)."""
        nobs = self._normalize_obs(obs)
        cond = self.encoder(nobs)
        b = cond.shape[0]
        ref = next(self.parameters())
        x = noise if noise is not None else torch.randn((b, self.horizon, self.action_dim), generator=generator,
                                                        device=ref.device, dtype=ref.dtype)
        sched = self.infer_scheduler
        sched.set_timesteps(ddim_steps or self.ddim_steps)
        for t in sched.timesteps:
            eps = self.denoiser(x, t.expand(b).to(x.device), cond)
            x = sched.step(eps, t, x).prev_sample
        return self.normalizer.unnormalize(x, "action")

    def predict_action(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, ddim_steps: int | None = None) -> torch.Tensor:
        """Observation history {k: (B, To, ...)} -> the Ta actions to execute (B, Ta, A), starting at step To-1."""
        chunk = self.sample_chunk(obs, noise, generator, ddim_steps)
        start = self.n_obs_steps - 1
        return chunk[:, start : start + self.n_action_steps]
