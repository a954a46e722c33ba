"""DiffusionPolicy: normalizer + observation encoder + denoiser + noise schedulers, one class for every family.

Families (``model``, see :mod:`equidiff_relaxed.policy.families`): ``plain`` (MLP/CNN encoder, 1D U-Net), ``equi``
(C_N-equivariant encoder and group-folded denoiser), ``relaxed`` (the same built from relaxed group-linear layers),
``residual`` (equivariant + residual pathway), ``subgroup`` (exact under C_M, M = ``subgroup_order``, relaxed
across the cosets of C_M in C_N), ``dihedral_equi`` / ``dihedral_relaxed`` (D_N: also reflections across the axis
at angle ``reflection_axis`` through the symmetry centre). ``group_order`` N; the group is the policy's
:class:`~equidiff_relaxed.symmetry.group.SymmetryGroup` (``policy.group``), which every part asks.

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
from equidiff_relaxed.nn.gated import GatedDenoiser, GatedEncoder, gate_penalty
from equidiff_relaxed.nn.group_linear import GroupLinear, group_linear_layers
from equidiff_relaxed.nn.mlp_denoiser import EquivariantMLPDenoiser, PlainMLPDenoiser
from equidiff_relaxed.policy.action_frame import RelativeActions
from equidiff_relaxed.policy.canonical import Canonicalizer
from equidiff_relaxed.policy.local_equivariance import LocalDenoiser, LocalEncoder, local_penalty, neighbourhood_angles
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.families import get_family
from equidiff_relaxed.symmetry.actions import rotate_image, transform_field
from equidiff_relaxed.symmetry.group import SymmetryGroup



class DiffusionPolicy(nn.Module):
    def __init__(self, shape_meta: ShapeMeta, model: str | PolicyConfig = "relaxed", *,
                 symmetry_center: Sequence[float] = (0.0, 0.0), reflection_axis: float = 0.0, **options: Any):
        """``model``: a :class:`PolicyConfig`, or a family name with the config's other options as keywords
        (ValueError for unknown or invalid ones). ``symmetry_center`` / ``reflection_axis``: from the dataset."""
        super().__init__()
        if isinstance(model, PolicyConfig):
            if options:
                raise ValueError("give either a PolicyConfig or keyword options, not both")
            cfg = model
        else:
            cfg = PolicyConfig.from_dict({"model": model, **options})
        self.config = cfg
        family = get_family(cfg.model)
        self.group = SymmetryGroup(cfg.group_order, family.reflections, float(reflection_axis))
        coset_index = None
        self.subgroup: SymmetryGroup | None = None
        if family.subgroup:
            self.subgroup = self.group.subgroup(cfg.effective_subgroup_order)
            coset_index = self.group.coset_index(self.subgroup)
        self.meta, self.model_family = shape_meta, cfg.model
        self.net_meta = self._cause_meta(shape_meta, cfg) if family.cause else shape_meta  # the fields the nets see
        self.horizon, self.n_obs_steps, self.n_action_steps = cfg.horizon, cfg.n_obs_steps, cfg.n_action_steps
        self.group_order, self.augment, self.ddim_steps = cfg.group_order, cfg.augment, cfg.ddim_steps
        self.normalizer_mode = cfg.normalizer_mode
        self.symmetry_center = tuple(float(c) for c in symmetry_center)
        self.action_dim = shape_meta.action.shape[0]
        self.normalizer = Normalizer()
        self.relative = RelativeActions(shape_meta, cfg.relative_to) if cfg.relative_to is not None else None
        action_meta = self.relative.network_meta if self.relative is not None else shape_meta.action
        self.action_meta = action_meta  # the action field as the network sees it (vec2 displacement when relative)
        self.encoder, self.denoiser = self._build_networks(family.layer_kind, coset_index)
        if (family.canonical or family.local) and cfg.normalizer_mode != "symmetric":
            raise ValueError(f"the {cfg.model} family needs normalizer_mode symmetric (positions centred on the "
                             "symmetry centre, so that it rotates in normalised space)")
        self.canonical = (Canonicalizer(shape_meta, cfg.canonical_from, action_meta, cfg.relative_to)
                          if family.canonical else None)
        if family.gated:  # the equivariant networks plus a gated free path (nn/gated.py)
            free_encoder, free_denoiser = self._build_networks(None, None)
            self.encoder = GatedEncoder(self.encoder, free_encoder, cfg.encoder_dim, cfg.gate_init)
            self.denoiser = GatedDenoiser(self.denoiser, free_denoiser)
        if family.local:  # plain networks averaged over a learned neighbourhood of C_N (policy/local_equivariance.py)
            angles = neighbourhood_angles(cfg.group_order, cfg.local_elements)
            self.encoder = LocalEncoder(self.encoder, shape_meta, angles, cfg.encoder_dim, cfg.local_conditioned)
            self.denoiser = LocalDenoiser(self.denoiser, action_meta, angles)
        scheduler_cfg = dict(num_train_timesteps=cfg.num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                             prediction_type=cfg.prediction_type, clip_sample=False)
        self.train_scheduler = DDPMScheduler(**scheduler_cfg)
        self.infer_scheduler = DDIMScheduler(**scheduler_cfg, timestep_spacing=cfg.ddim_spacing)

    def _cause_meta(self, meta: ShapeMeta, cfg: PolicyConfig) -> ShapeMeta:
        """shape_meta with the fed causes of the break (shape_meta ``breaking``) as extra observation fields; their
        constant values become buffers ``cause_<name>``."""
        names = list(cfg.breaking_inputs) if cfg.breaking_inputs is not None else list(meta.breaking)
        missing = [n for n in names if n not in meta.breaking]
        if missing or not names:
            declared = ", ".join(meta.breaking) or "none"
            what = f"breaking input(s) {', '.join(map(repr, missing))} not" if missing else "no breaking input"
            raise ValueError(f"{what} declared in the dataset's shape_meta (declared: {declared})")
        for n in names:
            self.register_buffer(f"cause_{n}", torch.tensor(meta.breaking[n][1], dtype=torch.float32),
                                 persistent=False)
        self.cause_keys = tuple(names)
        return ShapeMeta(obs={**meta.obs, **{n: meta.breaking[n][0] for n in names}}, action=meta.action,
                         breaking=meta.breaking)

    @property
    def reflection_axis(self) -> float:
        return self.group.axis

    def _build_networks(self, kind: str | None, coset_index: list[int] | None) -> tuple[nn.Module, nn.Module]:
        """Encoder and denoiser of the family: plain networks (``kind`` None) or group-folded ones whose group-linear
        layers have ``kind`` (exact where ``relax_where`` leaves them)."""
        cfg, meta = self.config, self.net_meta
        for k in meta.rgb_keys:
            if cfg.image_crop is not None and cfg.image_crop > min(meta.obs[k].shape[1:]):
                raise ValueError(f"model.image_crop {cfg.image_crop} is larger than {k}'s "
                                 f"{meta.obs[k].shape[1]}x{meta.obs[k].shape[2]} images")
        if kind is None:
            encoder: nn.Module = PlainObsEncoder(meta, cfg.n_obs_steps, cfg.encoder_hidden, cfg.encoder_dim,
                                                 layers=cfg.encoder_layers, image_crop=cfg.image_crop,
                                                 keypoints=cfg.inhand_keypoints)
            if cfg.denoiser == "mlp":
                return encoder, PlainMLPDenoiser(self.action_dim, cfg.horizon, cfg.encoder_dim, cfg.denoiser_width,
                                                 cfg.denoiser_depth)
            return encoder, PlainDenoiser(self.action_dim, cfg.encoder_dim, tuple(cfg.down_dims), cfg.kernel_size,
                                          cfg.n_groups)

        def layer(part: str) -> dict[str, Any]:
            own = kind if cfg.relax_where in ("all", part) else "equivariant"
            return dict(kind=own, banks=cfg.relax_banks, alpha=cfg.relax_alpha, beta=cfg.residual_beta,
                        coset_index=coset_index)

        encoder = EquivariantObsEncoder(meta, cfg.n_obs_steps, self.group, 4 * cfg.encoder_fields,
                                        cfg.encoder_fields, layers=cfg.encoder_layers, image_crop=cfg.image_crop,
                                        keypoints=cfg.inhand_keypoints, image_downsample=cfg.image_downsample,
                                        **layer("encoder"))
        if cfg.denoiser == "mlp":
            return encoder, EquivariantMLPDenoiser(self.action_meta, cfg.horizon, cfg.encoder_fields, self.group,
                                                   cfg.lift_fields, cfg.denoiser_width, cfg.denoiser_depth,
                                                   **layer("denoiser"))
        return encoder, EquivariantDenoiser(self.action_meta, cfg.encoder_fields, self.group, cfg.lift_fields,
                                            tuple(cfg.down_dims), cfg.kernel_size, cfg.n_groups, **layer("denoiser"))

    # ------------------------------------------------------------------ normalisation
    def fit_normalizer(self, data: dict[str, np.ndarray], episode_ends: np.ndarray | None = None) -> None:
        """Fit on training data (key -> (N, D) in environment units): low-dim obs and the action. With relative
        actions the action normaliser is fitted on every displacement a training window holds, which needs the
        episode boundaries of ``data`` (``episode_ends``; None: one episode)."""
        reps = {k: self.net_meta.obs[k].fields for k in self.net_meta.low_dim_keys}
        reps["action"] = self.action_meta.fields
        n = len(data["action"])
        data = {**data, **{k: np.tile(getattr(self, f"cause_{k}").numpy(), (n, 1)) for k in self.causes()}}
        if self.relative is not None:
            data = {**data, "action": self.relative.fit_samples(
                data["action"], data[self.relative.key], episode_ends, self.horizon, self.n_obs_steps)}
        self.normalizer.fit(data, self.normalizer_mode, reps=reps, center=self.symmetry_center)

    def causes(self) -> tuple[str, ...]:
        """Names of the fed causes of the break (cause_equi; empty for the other families)."""
        return getattr(self, "cause_keys", ())

    def _normalize_obs(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The normalised first To steps of every observation the networks see, the fed causes (constant, fixed in
        the world: they do not turn with the observation) included."""
        out = {}
        for k in self.meta.obs:
            x = obs[k][:, : self.n_obs_steps]
            out[k] = self.normalizer.normalize(x, k) if k in self.meta.low_dim_keys else x
        if self.causes():
            b = next(iter(obs.values())).shape[0]
            for k in self.causes():
                value = getattr(self, f"cause_{k}")
                out[k] = self.normalizer.normalize(value.expand(b, self.n_obs_steps, -1), k)
        return out

    # ------------------------------------------------------------------ training
    def _field_action(self, phi: torch.Tensor, reflect: torch.Tensor | None) -> Any:
        """x, fields -> x under the per-sample elements (reflect where ``reflect`` (B,) is 1, then rotate by
        ``phi`` (B,) about the symmetry centre); reflect None: rotations only, no mirror image is computed."""
        c, axis = self.symmetry_center, self.group.axis

        def act(x: torch.Tensor, fields: Any) -> torch.Tensor:
            f = False if reflect is None else reflect[:, None].to(x.dtype)
            return transform_field(x, fields, phi[:, None].to(x.dtype), f, c, axis)

        return act

    def transform_obs(self, obs: dict[str, torch.Tensor], phi: torch.Tensor,
                      reflect: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-sample group elements on an observation window {key: (B, To, ...)} (environment units); fixed-camera
        images are invariant inputs (unchanged), top-down images turn by whole quarter turns."""
        act = self._field_action(phi, reflect)
        out = {}
        for k, meta in self.meta.obs.items():
            x = obs[k]
            if k in self.meta.camera_keys:  # a fixed camera: no pixel action (an invariant, symmetry-breaking input)
                out[k] = x
            elif meta.type == "rgb":
                if reflect is not None and bool((reflect != 0).any()):
                    raise ValueError("top-down images cannot be reflected (use a C_N family)")
                quarters = torch.round(phi / (math.pi / 2)).long() % 4
                out[k] = torch.stack([rotate_image(x[i], float(quarters[i]) * math.pi / 2) for i in range(len(x))])
            else:
                out[k] = act(x, meta.fields)
        return out

    def transform_batch(self, batch: dict[str, Any], phi: torch.Tensor,
                        reflect: torch.Tensor | None = None) -> dict[str, Any]:
        """:meth:`transform_obs` on ``batch["obs"]`` and the same elements on ``batch["action"]`` (B, T, A)."""
        action = self._field_action(phi, reflect)(batch["action"], self.meta.action.fields)
        return {**batch, "obs": self.transform_obs(batch["obs"], phi, reflect), "action": action}

    def rotate_batch(self, batch: dict[str, Any], phi: torch.Tensor) -> dict[str, Any]:
        """Rotate every declared field of a batch by per-sample angles ``phi`` (B,) (no reflection)."""
        return self.transform_batch(batch, phi)

    def _augment_elements(self, b: int, generator: torch.Generator | None,
                          device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample (angle, reflection flag): the group's elements ("cn"), or any angle ("so2"; with reflections
        for D_N families); quarter turns only with top-down images (exact on a pixel grid)."""
        if self.meta.top_down_keys:
            return SymmetryGroup(4).sample(b, generator, device)
        return self.group.sample(b, generator, device, continuous=self.augment == "so2")

    def compute_loss(self, batch: dict[str, Any], generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoising MSE on a batch {"obs": {k: (B, To, ...)}, "action": (B, T, A)} in environment units."""
        action = batch["action"]
        b = action.shape[0]
        if self.augment is not None:
            phi, flips = self._augment_elements(b, generator, action.device)
            batch = self.transform_batch(batch, phi, flips if self.group.reflections else None)
            action = batch["action"]
        nobs = self._normalize_obs(batch["obs"])
        if self.canonical is not None:
            phi = self.canonical.angle(nobs)
            nobs = self.canonical.obs(nobs, phi)
        cond = self.encoder(nobs, generator)
        if self.relative is not None:
            action = self.relative.to_relative(action, self.relative.reference(batch["obs"], self.n_obs_steps))
        x0 = self.normalizer.normalize(action, "action")
        if self.canonical is not None:
            x0 = self.canonical.rotate_action(x0, -phi)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        t = torch.randint(0, self.train_scheduler.config.num_train_timesteps, (b,), generator=generator,
                          device=x0.device)
        noisy = self.train_scheduler.add_noise(x0, noise, t)
        kind = self.train_scheduler.config.prediction_type
        target = {"epsilon": noise, "sample": x0}.get(kind)
        if target is None:  # v_prediction: v = sqrt(abar) eps - sqrt(1 - abar) x0
            target = self.train_scheduler.get_velocity(x0, noise, t)
        return F.mse_loss(self.denoiser(noisy, t, cond), target)

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """Sum of the symmetry-breaking regularisers (relaxed: alpha * sum |w(g) - w(h)|; residual: beta ||W||^2;
        gated: gate_alpha * the mean gate activation of the last encoder call, i.e. of the batch just seen, ramped
        up over the first ``gate_warmup`` of the run (``progress``: the fraction of training done); local:
        local_alpha * the mean |kappa| of the last encoder call)."""
        terms = [layer.penalty() for _, layer in group_linear_layers(self)]
        if isinstance(self.encoder, GatedEncoder):
            warmup = self.config.gate_warmup
            ramp = min(1.0, progress / warmup) if warmup > 0 else 1.0
            gate = gate_penalty(self.encoder, self.config.gate_alpha * ramp)
            if gate is not None:
                terms.append(gate)
        if isinstance(self.encoder, LocalEncoder):
            local = local_penalty(self.encoder, self.config.local_alpha)
            if local is not None:
                terms.append(local)
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
        if self.canonical is not None:
            phi = self.canonical.angle(nobs)
            nobs = self.canonical.obs(nobs, phi)
        cond = self.encoder(nobs)
        b = next(iter(nobs.values())).shape[0]
        ref = next(self.parameters())
        x = noise if noise is not None else torch.randn((b, self.horizon, self.action_dim), generator=generator,
                                                        device=ref.device, dtype=ref.dtype)
        sched = self.infer_scheduler
        sched.set_timesteps(ddim_steps or self.ddim_steps)
        for t in sched.timesteps:
            eps = self.denoiser(x, t.expand(b).to(x.device), cond)
            x = sched.step(eps, t, x).prev_sample
        if self.canonical is not None:
            x = self.canonical.rotate_action(x, phi)
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

