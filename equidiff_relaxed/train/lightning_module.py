"""LightningModule around :class:`DiffusionPolicy`: DDPM loss + symmetry-breaking penalty, AdamW, cosine schedule
with warm-up, and randomness drawn from a generator seeded by (seed, global step) so resumed runs repeat exactly.

The policy is built in ``setup`` from the datamodule's shape_meta (which is then stored in the hyperparameters),
or directly in ``__init__`` when ``shape_meta`` is given (loading a checkpoint). Checkpoints hold plain
hyperparameters, the normalizer and weights, and load with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import lightning as L
import torch

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy


def make_adamw(params: Iterable[torch.nn.Parameter] | list[dict[str, Any]], lr: float, weight_decay: float,
               device: torch.device, mixed_precision: bool = False) -> torch.optim.AdamW:
    """The training optimizer: AdamW, betas (0.95, 0.999). On CPU and CUDA in full precision it uses the fused
    kernel (one kernel over all parameters instead of one op per tensor: 3-5x faster steps on CPU for the low-dim
    policies, where the optimizer is a sizeable part of a step). Under mixed precision it keeps the default
    implementation, because Lightning refuses gradient clipping for fused optimizers with AMP."""
    fused = device.type in ("cpu", "cuda") and not mixed_precision
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.95, 0.999), fused=fused or None)


class DiffusionPolicyModule(L.LightningModule):
    """Training of one :class:`DiffusionPolicy`.

    The policy options (``model``, ``horizon``, ``relax_alpha``, ...) are :class:`PolicyConfig`'s fields, passed as
    keywords and declared nowhere else: LightningCLI finds them through ``PolicyConfig(**policy_options)`` (jsonargparse
    resolves ``**kwargs`` that are forwarded to a class), so a YAML ``model:`` section and ``--model.<option>`` read the
    dataclass (the common options and every family's own; the chosen family refuses the others). The
    hyperparameters hold the complete config of the chosen family (defaults filled in), the training options below,
    and what the data decided (shape_meta, symmetry centre, reflection axis, env).

    Args:
        lr: AdamW learning rate (after warm-up; cosine decay to 0 over the run).
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps.
        relax_lr: AdamW learning rate of the relaxation weights w_l(h) of relaxed layers (their own parameter group,
            same warm-up, cosine decay and weight decay); ``None``: ``lr``, one group for all parameters.
        seed: seeds the noise and augmentation draws (a generator per (seed, step)); train.py links it to
            ``seed_everything``.
        shape_meta: set when loading a checkpoint (builds the policy at once); otherwise read from the datamodule.
        symmetry_center: (x, y) of the rotation centre; from the dataset unless given.
        reflection_axis: angle of the reflection axis through the centre (D_N groups); from the dataset unless given.
        env: the dataset's env attributes (recorded so evaluation can recreate the env).
        **policy_options: :class:`PolicyConfig` fields.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        warmup_steps: int = 50,
        relax_lr: float | None = None,
        seed: int = 0,
        shape_meta: dict[str, Any] | None = None,
        symmetry_center: list[float] | None = None,
        reflection_axis: float | None = None,
        env: dict[str, Any] | None = None,
        **policy_options: Any,
    ):
        super().__init__()
        try:
            PolicyConfig.check_names(policy_options)
            self.config = PolicyConfig(**policy_options)  # this literal call is what LightningCLI resolves
        except ValueError as err:
            raise UserError(f"bad model config: {err}") from None
        self.save_hyperparameters()
        for name in PolicyConfig.family_option_names():  # other families' options (unset) are not this policy's
            self.hparams.pop(name, None)
        self.hparams.update(self.config.to_dict())  # the complete config, defaults included
        self.policy: DiffusionPolicy | None = None
        if shape_meta is not None:
            self.build(ShapeMeta.from_dict(shape_meta), symmetry_center or [0.0, 0.0], reflection_axis or 0.0)

    def build(self, shape_meta: ShapeMeta, symmetry_center: list[float],
              reflection_axis: float = 0.0) -> DiffusionPolicy:
        """Create the policy (once); records shape_meta, the symmetry centre and the reflection axis (from the
        data) in the hyperparameters."""
        if self.policy is None:
            try:
                self.policy = DiffusionPolicy(shape_meta, self.config, symmetry_center=symmetry_center,
                                              reflection_axis=reflection_axis)
            except ValueError as err:
                raise UserError(f"bad model config: {err}") from None
            self.hparams["shape_meta"] = shape_meta.to_dict()
            self.hparams["symmetry_center"] = [float(c) for c in symmetry_center]
            self.hparams["reflection_axis"] = float(reflection_axis)
        return self.policy

    def setup(self, stage: str) -> None:
        dm = self.trainer.datamodule if self.trainer is not None else None
        if dm is None:
            if self.policy is None:
                raise UserError("the model needs a datamodule (or shape_meta) to be built")
            return
        dm.setup(stage)
        for name in ("horizon", "n_obs_steps", "n_action_steps"):  # train.py links them; a direct caller may not
            if getattr(dm, name) != getattr(self.config, name):
                raise UserError(f"data.{name}={getattr(dm, name)} but model.{name}={getattr(self.config, name)}")
        fresh = self.policy is None
        policy = self.build(dm.shape_meta, list(dm.symmetry_center), dm.reflection_axis)
        if ShapeMeta.from_dict(self.hparams["shape_meta"]) != dm.shape_meta:
            raise UserError("the dataset's shape_meta differs from the model's (checkpoint)", dm.dataset_path)
        if fresh or not len(policy.normalizer.fields):
            policy.fit_normalizer(dm.normalizer_data(), dm.normalizer_episode_ends())
        if dm.env_attrs is not None:
            self.hparams["env"] = dm.env_attrs  # recorded so that evaluation can recreate the env

    def _generator(self, salt: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed(int(self.hparams["seed"]) * 1_000_003 + salt)
        return g

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        assert self.policy is not None
        loss = self.policy.compute_loss(batch, self._generator(self.global_step))
        total = getattr(self.trainer, "estimated_stepping_batches", None) if self._trainer is not None else None
        progress = self.global_step / total if isinstance(total, (int, float)) and math.isfinite(total) and total > 0 \
            else 1.0
        penalty = self.policy.penalty(progress)
        b = batch["action"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=b)
        self.log("train/penalty", penalty, batch_size=b)
        return loss + penalty

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        assert self.policy is not None
        loss = self.policy.compute_loss(batch, self._generator(10**9 + batch_idx))
        self.log("val/loss", loss, prog_bar=True, batch_size=batch["action"].shape[0])
        return loss

    def parameter_groups(self) -> list[dict[str, Any]]:
        """AdamW parameter groups: everything at ``lr``; with ``relax_lr`` set, the relaxation weights w_l(h) in a
        second group at ``relax_lr``."""
        relax_lr = self.hparams.get("relax_lr")
        named = list(self.named_parameters())
        if relax_lr is None:
            return [{"params": [p for _, p in named]}]
        relax = [p for n, p in named if n.endswith("relax_weights")]
        rest = [p for n, p in named if not n.endswith("relax_weights")]
        return [{"params": rest}, {"params": relax, "lr": float(relax_lr)}]

    def configure_optimizers(self) -> Any:
        h = self.hparams
        mixed = "mixed" in str(getattr(self.trainer, "precision", ""))
        opt = make_adamw(self.parameter_groups(), h["lr"], h["weight_decay"], self.device, mixed)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(int(h["warmup_steps"]), total)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / max(1, warmup)
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
