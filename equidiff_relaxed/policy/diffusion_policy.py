"""DiffusionPolicy: normalizer + observation encoder + denoiser + noise schedulers, one class for every family.

The family (``model``, :mod:`equidiff_relaxed.policy.families`) builds the encoder and the denoiser; this class knows
nothing of any one family. ``group_order`` N; the group is the policy's
:class:`~equidiff_relaxed.symmetry.group.SymmetryGroup` (``policy.group``: C_N, or D_N for the dihedral families,
with reflections across the axis at angle ``reflection_axis`` through the symmetry centre), which every part asks.

Inference (lerobot's convention): :meth:`DiffusionPolicy.reset` at the start of an episode, then
:meth:`DiffusionPolicy.select_action` with each new observation; the policy keeps the last To observations (the first
one repeated at the start, as in training) and a queue of the Ta actions of each predicted chunk.

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
from equidiff_relaxed.data.windows import window_to_tensors
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.nn.group_linear import RelaxedLinear
from equidiff_relaxed.nn.penalty import DataSized, Penalised, modules_of
from equidiff_relaxed.policy.action_frame import RelativeActions
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.families import get_family
from equidiff_relaxed.policy.networks import BuildContext
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
        self.family = family
        self.group = SymmetryGroup(cfg.group_order, family.reflections, float(reflection_axis))
        self.meta, self.model_family = shape_meta, cfg.model
        fixed = family.fixed_inputs(shape_meta, cfg.family_options)
        for name, (_, value) in fixed.items():  # constant inputs (not turned with the scene): buffers fixed_<name>
            self.register_buffer(f"fixed_{name}", torch.tensor(value, dtype=torch.float32), persistent=False)
        self.fixed_keys = tuple(fixed)
        self.net_meta = (ShapeMeta(obs={**shape_meta.obs, **{n: f for n, (f, _) in fixed.items()}},
                                   action=shape_meta.action, breaking=shape_meta.breaking)
                         if fixed else shape_meta)  # the fields the networks see
        self.horizon, self.n_obs_steps, self.n_action_steps = cfg.horizon, cfg.n_obs_steps, cfg.n_action_steps
        self.group_order, self.augment, self.ddim_steps = cfg.group_order, cfg.augment, cfg.ddim_steps
        self.normalizer_mode = cfg.normalizer_mode
        self.symmetry_center = tuple(float(c) for c in symmetry_center)
        self.action_dim = shape_meta.action.shape[0]
        self.normalizer = Normalizer()
        self.relative = RelativeActions(shape_meta, cfg.relative_to) if cfg.relative_to is not None else None
        action_meta = self.relative.network_meta if self.relative is not None else shape_meta.action
        self.action_meta = action_meta  # the action field as the network sees it (vec2 displacement when relative)
        self.encoder, self.denoiser = family.build(BuildContext(cfg, cfg.family_options, self.net_meta, action_meta,
                                                                self.group, self.action_dim))
        self._penalised = [m for _, m in modules_of(self, Penalised)]
        scheduler_cfg = dict(num_train_timesteps=cfg.num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                             prediction_type=cfg.prediction_type, clip_sample=False)
        self.train_scheduler = DDPMScheduler(**scheduler_cfg)
        self.infer_scheduler = DDIMScheduler(**scheduler_cfg, timestep_spacing=cfg.ddim_spacing)
        self.reset()

    @property
    def reflection_axis(self) -> float:
        return self.group.axis

    # ------------------------------------------------------------------ normalisation
    def fit_normalizer(self, data: dict[str, np.ndarray], episode_ends: np.ndarray | None = None) -> None:
        """Fit on training data (key -> (N, D) in environment units): low-dim obs and the action. With relative
        actions the action normaliser is fitted on every displacement a training window holds, which needs the
        episode boundaries of ``data`` (``episode_ends``; None: one episode). Modules whose prior depends on the
        amount of data (:class:`~equidiff_relaxed.nn.penalty.DataSized`) are told the number of training episodes."""
        for _, module in modules_of(self, DataSized):
            module.set_training_episodes(len(episode_ends) if episode_ends is not None else 1)
        reps = {k: self.net_meta.obs[k].fields for k in self.net_meta.low_dim_keys}
        reps["action"] = self.action_meta.fields
        n = len(data["action"])
        data = {**data, **{k: np.tile(getattr(self, f"fixed_{k}").numpy(), (n, 1)) for k in self.fixed_keys}}
        if self.relative is not None:
            data = {**data, "action": self.relative.fit_samples(
                data["action"], data[self.relative.key], episode_ends, self.horizon, self.n_obs_steps)}
        self.normalizer.fit(data, self.normalizer_mode, reps=reps, center=self.symmetry_center)

    def _normalize_obs(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The normalised first To steps of every observation the networks see, the family's fixed inputs (constant,
        fixed in the world: they do not turn with the observation) included."""
        out = {}
        for k in self.meta.obs:
            x = obs[k][:, : self.n_obs_steps]
            out[k] = self.normalizer.normalize(x, k) if k in self.meta.low_dim_keys else x
        if self.fixed_keys:
            b = next(iter(obs.values())).shape[0]
            for k in self.fixed_keys:
                value = getattr(self, f"fixed_{k}")
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
        cond = self.encoder(nobs, generator)
        if self.relative is not None:
            action = self.relative.to_relative(action, self.relative.reference(batch["obs"], self.n_obs_steps))
        x0 = self.normalizer.normalize(action, "action")
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        t = torch.randint(0, self.train_scheduler.config.num_train_timesteps, (b,), generator=generator,
                          device=x0.device)
        noisy = self.train_scheduler.add_noise(x0, noise, t)
        return F.mse_loss(self.denoiser(noisy, t, cond), self.denoising_target(x0, noise, t))

    def denoising_target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the denoiser learns to predict for clean normalised actions ``x0`` (B, T, A) noised with ``noise``
        (B, T, A) at timesteps ``t`` (B,): the noise, the clean sample, or v = sqrt(abar) eps - sqrt(1 - abar) x0,
        as the training scheduler's prediction type says."""
        kind = self.train_scheduler.config.prediction_type
        target = {"epsilon": noise, "sample": x0}.get(kind)
        return self.train_scheduler.get_velocity(x0, noise, t) if target is None else target

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """Sum of the symmetry-breaking regularisers of every :class:`~equidiff_relaxed.nn.penalty.Penalised` module
        (relaxed layers: alpha * sum |w(g) - w(h)|; residual layers: beta ||W||^2; the gated family's gate and the
        local family's kappa: on the batch just seen). ``progress``: the fraction of training done (for ramps)."""
        terms = [m.penalty(progress) for m in self._penalised]
        return torch.stack(terms).sum() if terms else torch.zeros((), device=next(self.parameters()).device)

    def relaxed_layers(self) -> list[tuple[str, RelaxedLinear]]:
        """(dotted name, layer) of every relaxed layer: where the relaxation weights w_l(h) are."""
        return modules_of(self, RelaxedLinear)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample_chunk(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, ddim_steps: int | None = None) -> torch.Tensor:
        """The whole denoised chunk (B, T, A) in environment units. ``noise`` (B, T, A) fixes the initial sample
        (in normalised action space)."""
        nobs = self._normalize_obs(obs)
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


    # ------------------------------------------------------------------ acting
    def reset(self) -> None:
        """Start a new episode (or a new batch of episodes): forget the observation history and the queued actions."""
        self._history: list[dict[str, np.ndarray]] = []  # per step {key: (B, ...) stored layout}
        self._queue: list[np.ndarray] = []  # the remaining actions of the current chunk, each (B, A)
        self._batched: bool | None = None
        self.chunk_started = False  # whether the last select_action predicted a new chunk

    def observation_history(self) -> dict[str, np.ndarray]:
        """The last To observations the policy holds, {key: (B, To, ...)} as the environment gives them."""
        return {k: np.stack([h[k] for h in self._history], axis=1) for k in self.meta.obs}

    def _observation(self, obs: Any) -> tuple[dict[str, np.ndarray], bool]:
        """One time step's observation as {key: (B, ...)} numpy in the stored layout (images uint8 H, W, C), and
        whether it came with a batch axis. UserError naming the key for a missing key or a wrong shape."""
        if not isinstance(obs, dict):
            raise UserError(f"select_action takes a dict of observations {{key: array}}, got {type(obs).__name__}")
        out, batched = {}, None
        for key, field_meta in self.meta.obs.items():
            if key not in obs:
                raise UserError(f"the observation has no {key!r} (expected keys: {', '.join(self.meta.obs)})")
            value = obs[key]
            x = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            shape = tuple(field_meta.stored_shape)
            if x.shape == shape:
                is_batched = False
                x = x[None]
            elif x.ndim == len(shape) + 1 and x.shape[1:] == shape:
                is_batched = True
            else:
                raise UserError(f"observation {key!r} has shape {tuple(x.shape)}, expected {shape} "
                                f"(or (B, {', '.join(map(str, shape))}) for a batch)")
            if batched is not None and is_batched != batched:
                raise UserError(f"observation {key!r} has {'a' if is_batched else 'no'} batch axis, unlike the others")
            batched = is_batched
            out[key] = x
        sizes = {len(x) for x in out.values()}
        if len(sizes) > 1:
            raise UserError(f"the observations' batch sizes differ: {sorted(sizes)}")
        return out, bool(batched)

    @torch.no_grad()
    def select_action(self, obs: dict[str, Any], generator: torch.Generator | Sequence[torch.Generator] | None = None,
                      ddim_steps: int | None = None) -> np.ndarray:
        """The action to execute now, for this step's observation ``obs`` ({key: array} in the environment's units
        and layout, as the dataset stores them: low-dim (D,), images (H, W, C) uint8; or each with a leading batch
        axis B). Returns (A,), or (B, A) for a batch, as numpy in environment units.

        Keeps the last To observations (the first one repeated after :meth:`reset`) and, when no queued action is
        left, predicts a chunk from them (diffusion noise from ``generator``: one generator, or one per batch row)
        and queues its Ta actions from step To-1 on. ``chunk_started`` says whether this call predicted.
        """
        step, batched = self._observation(obs)
        if self._batched is not None and batched != self._batched:
            raise UserError("select_action got a batch after single observations (or the reverse); call reset() first")
        self._batched = batched
        if not self._history:
            self._history = [step] * self.n_obs_steps
        else:
            self._history = [*self._history[1 - self.n_obs_steps:], step] if self.n_obs_steps > 1 else [step]
        self.chunk_started = not self._queue
        if self.chunk_started:
            ref = next(self.parameters())
            window = window_to_tensors(self.observation_history(), self.meta, batch=True)
            window = {k: v.to(ref.device) for k, v in window.items()}
            b = len(next(iter(step.values())))
            shape = (self.horizon, self.action_dim)
            if generator is None or isinstance(generator, torch.Generator):
                noise = torch.randn((b, *shape), generator=generator)
            else:
                if len(generator) != b:
                    raise ValueError(f"{len(generator)} generators for a batch of {b}")
                noise = torch.stack([torch.randn(shape, generator=g) for g in generator])
            actions = self.predict_action(window, noise=noise.to(ref.device, ref.dtype), ddim_steps=ddim_steps)
            self._queue = list(actions.cpu().numpy().transpose(1, 0, 2))  # Ta entries of (B, A)
        action = self._queue.pop(0)
        return action if batched else action[0]

    def needs_next_images(self) -> bool:
        """Whether the observation that follows the action :meth:`select_action` just returned will be in the window
        of the next predicted chunk (the last To observations when the queue runs out): with q actions left in the
        queue, that is when q < To. When it is not, an env may skip rendering that observation's images."""
        return len(self._queue) < self.n_obs_steps
