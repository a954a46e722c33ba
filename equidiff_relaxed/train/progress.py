"""Plain-text training progress for logs and terminals without a live progress bar (``make demo``, CI).

Prints one line every ``every_n_steps`` optimizer steps (None: a twentieth of the run) and at the end: step / total,
the last training loss, elapsed time and an estimate of the time left, e.g. ``train step 600/3000 (20%)  loss 0.0412
1m05s elapsed, ~4m20s left``. Training runs without a terminal get it in place of Lightning's bar.
"""
from __future__ import annotations

import sys
import time
from typing import Any

import lightning as L


def _fmt(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


class StepProgress(L.Callback):
    def __init__(self, every_n_steps: int | None = 250):
        super().__init__()
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every = every_n_steps or 1
        self._auto = every_n_steps is None
        self._t0: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()
        total = int(trainer.estimated_stepping_batches)
        if self._auto:
            self.every = max(1, total // 20)
        print(f"training: {total} optimizer steps", file=sys.stderr, flush=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step, total = trainer.global_step, max(1, int(trainer.estimated_stepping_batches))
        if step % self.every and step != total:
            return
        elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
        loss = trainer.callback_metrics.get("train/loss")
        left = elapsed / max(step, 1) * (total - step)
        print(f"train step {step}/{total} ({100 * step / total:.0f}%)"
              + (f"  loss {float(loss):.4f}" if loss is not None else "")
              + f"  {_fmt(elapsed)} elapsed, ~{_fmt(left)} left", file=sys.stderr, flush=True)
