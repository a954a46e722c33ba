"""Exponential moving average of the policy weights as a Lightning callback.

The EMA copy is used for validation and saved in (and restored from) checkpoints under
``checkpoint["callbacks"]["EMA"]["shadow"]``; evaluation loads those weights. Decay warms up as
``min(decay, (1 + n) / (10 + n))`` after n updates.
"""
from __future__ import annotations

from typing import Any

import lightning as L
import torch


class EMA(L.Callback):
    def __init__(self, decay: float = 0.999):
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] | None = None
        self.updates = 0
        self._backup: dict[str, torch.Tensor] | None = None

    @property
    def state_key(self) -> str:
        return "EMA"

    @staticmethod
    def _weights(pl_module: L.LightningModule) -> dict[str, torch.Tensor]:
        return pl_module.policy.state_dict()  # type: ignore[union-attr]

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.shadow is None:  # not restored from a checkpoint
            self.shadow = {k: v.detach().clone() for k, v in self._weights(pl_module).items()}
        else:
            device = next(pl_module.parameters()).device
            self.shadow = {k: v.to(device) for k, v in self.shadow.items()}

    @torch.no_grad()
    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        assert self.shadow is not None
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in self._weights(pl_module).items():
            s = self.shadow[k]
            if s.dtype.is_floating_point:
                s.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                s.copy_(v)

    def _swap_in(self, pl_module: L.LightningModule) -> None:
        if self.shadow is not None and self._backup is None:
            self._backup = {k: v.detach().clone() for k, v in self._weights(pl_module).items()}
            pl_module.policy.load_state_dict(self.shadow)  # type: ignore[union-attr]

    def _swap_out(self, pl_module: L.LightningModule) -> None:
        if self._backup is not None:
            pl_module.policy.load_state_dict(self._backup)  # type: ignore[union-attr]
            self._backup = None

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._swap_in(pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._swap_out(pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": self.shadow, "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.shadow = state_dict["shadow"]
        self.updates = int(state_dict["updates"])
