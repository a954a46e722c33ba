"""DiffusionPolicy: normalizer + observation encoder + denoiser + noise schedulers, one class for every family.

Families (``model``): ``plain`` (MLP/CNN encoder, 1D U-Net), ``equi`` (C_N-equivariant encoder and group-folded
denoiser), ``relaxed`` (the same built from relaxed group-linear layers), ``residual`` (equivariant + residual
pathway). ``group_order`` N picks C_N; a subgroup (C4 of C8, C2) is simply a smaller N.

Denoiser (``denoiser``): ``unet`` (default; 1D temporal U-Net, for images and long horizons) or ``mlp`` (a residual
AdaLN MLP over the flattened chunk, ``denoiser_width`` x ``denoiser_depth``; much cheaper for short low-dim chunks).
Both come in every family (the equivariant ones fold the group axis into the batch around a shared network).

Training: diffusers DDPMScheduler (100 steps, squaredcos_cap_v2), ``prediction_type`` v_prediction (default) |
epsilon | sample. Inference: DDIM with ``ddim_steps`` (default 16) and ``ddim_spacing`` "trailing" (default: K-step
sampling starts at the last training step, from pure noise; diffusers' "leading" starts 8-step sampling at t = 84 of
100, where the signal coefficient is still 0.23). Trailing needs a prediction that is well conditioned at t = T-1:
with epsilon prediction the first x0 estimate divides by sqrt(abar_99) = 5e-4 (measured: chunks off by metres), so
that pair is refused; v-prediction recovers x0 = sqrt(abar) x - sqrt(1-abar) v stably at every t. Checkpoints made
before these options load with their old behaviour (epsilon, leading). Sample clipping is off: per-coordinate
clipping is not rotation equivariant.

Actions: absolute targets, or with ``relative_to`` (an observation key such as "pusher_pos") displacements from
that point at "now" (see :mod:`equidiff_relaxed.policy.action_frame`); the policy always takes and returns
environment-unit absolute actions. Encoders: ``encoder_layers`` hidden layers (plain: ``encoder_hidden`` units;
equivariant: 4 x ``encoder_fields`` regular fields) and ``encoder_fields`` regular output fields, i.e. that many
conditioning features per group copy of the denoiser.
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
from equidiff_relaxed.nn.mlp_denoiser import EquivariantMLPDenoiser, PlainMLPDenoiser
from equidiff_relaxed.policy.action_frame import RelativeActions
from equidiff_relaxed.policy.families import get_family
from equidiff_relaxed.symmetry.actions import rotate_field, rotate_image

AUGMENTATIONS = (None, "so2", "cn")
RELAX_WHERE = ("all", "encoder", "denoiser")  # which part's group-linear layers are relaxed (or residual)
DDIM_SPACINGS = ("trailing", "leading", "linspace")  # diffusers' timestep_spacing
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # what the denoiser predicts (diffusers' prediction_type)


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
        ddim_spacing: str = "trailing",
        prediction_type: str = "v_prediction",
        relative_to: str | None = None,
        encoder_layers: int = 1,
        symmetry_center: Sequence[float] = (0.0, 0.0),
        relax_where: str = "all",
        denoiser: str = "unet",
        denoiser_width: int = 256,
        denoiser_depth: int = 3,
    ):
        super().__init__()
        family = get_family(model)  # ValueError naming the registered families
        if not isinstance(group_order, int) or group_order < 1:
            raise ValueError(f"group_order must be an integer >= 1, got {group_order!r}")
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {augment!r} (known: so2, cn or null)")
        if relax_where not in RELAX_WHERE:
            raise ValueError(f"unknown relax_where {relax_where!r} (known: {', '.join(RELAX_WHERE)})")
        if denoiser not in ("unet", "mlp"):
            raise ValueError(f"unknown denoiser {denoiser!r} (known: unet, mlp)")
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction_type {prediction_type!r} (known: {', '.join(PREDICTION_TYPES)})")
        if ddim_spacing not in DDIM_SPACINGS:
            raise ValueError(f"unknown ddim_spacing {ddim_spacing!r} (known: {', '.join(DDIM_SPACINGS)})")
        if ddim_spacing != "leading" and prediction_type == "epsilon":
            raise ValueError(f"ddim_spacing {ddim_spacing!r} with prediction_type 'epsilon' starts at t = T-1, where "
                             "x0 = (x - sqrt(1-abar) eps) / sqrt(abar) divides by sqrt(abar) = 5e-4: use "
                             "prediction_type v_prediction (default) or ddim_spacing leading")
        if not isinstance(encoder_layers, int) or encoder_layers < 1:
            raise ValueError(f"encoder_layers must be an integer >= 1, got {encoder_layers!r}")
        if ddim_steps < 1 or ddim_steps > num_train_timesteps:
            raise ValueError(f"ddim_steps must be in [1, {num_train_timesteps}], got {ddim_steps}")
        self.meta, self.model_family = shape_meta, model
        self.horizon, self.n_obs_steps, self.n_action_steps = horizon, n_obs_steps, n_action_steps
        self.group_order, self.augment, self.ddim_steps = group_order, augment, ddim_steps
        self.normalizer_mode = normalizer_mode
        self.symmetry_center = tuple(float(c) for c in symmetry_center)
        self.action_dim = shape_meta.action.shape[0]
        self.normalizer = Normalizer()
        self.relative = RelativeActions(shape_meta, relative_to) if relative_to is not None else None
        action_meta = self.relative.network_meta if self.relative is not None else shape_meta.action
        self.action_meta = action_meta  # the action field as the network sees it (vec2 displacement when relative)
        kind = family.layer_kind
        if kind is None:
            self.encoder: nn.Module = PlainObsEncoder(shape_meta, n_obs_steps, encoder_hidden, encoder_dim,
                                                      layers=encoder_layers)
            if denoiser == "mlp":
                self.denoiser: nn.Module = PlainMLPDenoiser(self.action_dim, horizon, encoder_dim, denoiser_width,
                                                            denoiser_depth)
            else:
                self.denoiser = PlainDenoiser(self.action_dim, encoder_dim, down_dims, kernel_size, n_groups)
        else:
            def layer(part: str) -> dict[str, Any]:
                own = kind if relax_where in ("all", part) else "equivariant"
                return dict(kind=own, banks=relax_banks, alpha=relax_alpha, beta=residual_beta)

            self.encoder = EquivariantObsEncoder(shape_meta, n_obs_steps, group_order, 4 * encoder_fields,
                                                 encoder_fields, layers=encoder_layers, **layer("encoder"))
            if denoiser == "mlp":
                self.denoiser = EquivariantMLPDenoiser(action_meta, horizon, encoder_fields, group_order,
                                                       lift_fields, denoiser_width, denoiser_depth,
                                                       **layer("denoiser"))
            else:
                self.denoiser = EquivariantDenoiser(action_meta, encoder_fields, group_order, lift_fields,
                                                    down_dims, kernel_size, n_groups, **layer("denoiser"))
        scheduler_cfg = dict(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                             prediction_type=prediction_type, clip_sample=False)
        self.train_scheduler = DDPMScheduler(**scheduler_cfg)
        self.infer_scheduler = DDIMScheduler(**scheduler_cfg, timestep_spacing=ddim_spacing)

    # ------------------------------------------------------------------ normalisation
    def fit_normalizer(self, data: dict[str, np.ndarray], episode_ends: np.ndarray | None = None) -> None:
        """Fit on training data (key -> (N, D) in environment units): low-dim obs and the action. With relative
        actions the action normaliser is fitted on every displacement a training window holds, which needs the
        episode boundaries of ``data`` (``episode_ends``; None: one episode)."""
        reps = {k: self.meta.obs[k].fields for k in self.meta.low_dim_keys}
        reps["action"] = self.action_meta.fields
        if self.relative is not None:
            data = {**data, "action": self.relative.fit_samples(
                data["action"], data[self.relative.key], episode_ends, self.horizon, self.n_obs_steps)}
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
        if self.relative is not None:
            action = self.relative.to_relative(action, self.relative.reference(batch["obs"], self.n_obs_steps))
        x0 = self.normalizer.normalize(action, "action")
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        t = torch.randint(0, self.train_scheduler.config.num_train_timesteps, (b,), generator=generator,
                          device=x0.device)
        noisy = self.train_scheduler.add_noise(x0, noise, t)
        kind = self.train_scheduler.config.prediction_type
        target = {"epsilon": noise, "sample": x0}.get(kind)
        if target is None:  # v_prediction: v = sqrt(abar) eps - sqrt(1 - abar) x0
            target = self.train_scheduler.get_velocity(x0, noise, t)
        return F.mse_loss(self.denoiser(noisy, t, cond), target)

    def penalty(self) -> torch.Tensor:
        """Sum of the symmetry-breaking regularisers (relaxed: alpha * sum |w(g) - w(h)|; residual: beta ||W||^2)."""
        terms = [layer.penalty() for _, layer in group_linear_layers(self)]
        return torch.stack(terms).sum() if terms else torch.zeros((), device=next(self.parameters()).device)

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
        chunk = self.normalizer.unnormalize(x, "action")
        if self.relative is not None:
            chunk = self.relative.to_absolute(chunk, self.relative.reference(obs, self.n_obs_steps))
        return chunk

    def predict_action(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, ddim_steps: int | None = None) -> torch.Tensor:
        """Observation history {k: (B, To, ...)} -> the Ta actions to execute (B, Ta, A), starting at step To-1."""
        chunk = self.sample_chunk(obs, noise, generator, ddim_steps)
        start = self.n_obs_steps - 1
        return chunk[:, start : start + self.n_action_steps]
