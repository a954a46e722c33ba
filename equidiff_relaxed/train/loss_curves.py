"""Loss curves as a PNG next to the checkpoints, with or without a logger.

``LossCurves`` records ``train/loss`` every ``every_n_steps`` optimizer steps (default: the trainer's
``log_every_n_steps``) and ``val/loss`` after every validation, both read from ``trainer.callback_metrics``, and
writes ``loss_curves.png`` (train and val loss against the global step, log y-axis) at every validation end and at
the end of training. The file goes into the ModelCheckpoint's ``dirpath`` when there is one, else into
``trainer.log_dir`` (``default_root_dir`` without a logger), and is written atomically (a temporary sibling, then a
rename), so a reader never sees half a PNG.

The recorded points are plain lists of ints and floats saved in the checkpoint (``state_dict``), so a run resumed
with ``--ckpt_path`` plots its earlier points too. Reading a metric is one device sync every ``every_n_steps`` steps
(what a logger does anyway); drawing the figure takes about 0.1 s per validation (2 CPU cores), also for long
runs (more than ``max_points`` points are drawn as bin averages). The val point is taken in
``on_validation_epoch_end``, before any checkpoint callback saves in ``on_validation_end`` / ``on_train_epoch_end``,
so checkpoints include it whatever the order of the callbacks.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np

from equidiff_relaxed.data.atomic import atomic_output

TRAIN_KEY = "train/loss"
VAL_KEY = "val/loss"


def _scalar(value: Any) -> float | None:
    """A finite Python float from a metric (tensor or number), or None."""
    if value is None:
        return None
    x = float(value.detach().cpu()) if hasattr(value, "detach") else float(value)
    return x if math.isfinite(x) else None


def _append(steps: list[int], values: list[float], step: int, value: float) -> None:
    """Append (step, value); a point at the step already last recorded is replaced (accumulation, re-validation)."""
    if steps and steps[-1] >= step:
        if steps[-1] == step:
            values[-1] = value
        return
    steps.append(step)
    values.append(value)


def _thin(steps: list[int], values: list[float], max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive points only (a log axis cannot show v <= 0), averaged in consecutive bins down to ``max_points``."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = y > 0
    x, y = x[keep], y[keep]
    if len(x) > max_points:
        starts = np.linspace(0, len(x), max_points, endpoint=False).astype(int)
        counts = np.diff(np.append(starts, len(x)))
        x = x[starts + counts - 1]  # each bin at its last step
        y = np.exp(np.add.reduceat(np.log(y), starts) / counts)  # geometric mean: the average seen on a log axis
    return x, y


def plot_loss_curves(path: str | os.PathLike, train: tuple[list[int], list[float]],
                     val: tuple[list[int], list[float]], title: str = "", max_points: int = 1000) -> Path:
    """Draw train and val loss against the global step (log y-axis) into ``path`` (PNG), atomically.

    A curve longer than ``max_points`` is drawn as bin averages (plotting time stays flat over long runs).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)  # Agg without touching pyplot or the global backend
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.12, top=0.92)  # fixed margins: tight_layout costs a draw
    ax = fig.add_subplot()
    for (steps, values), label, style in ((train, "train/loss", dict(lw=1.0, alpha=0.8)),
                                          (val, "val/loss", dict(lw=1.5, marker="o", ms=3))):
        x, y = _thin(steps, values, max_points)
        if len(x):
            ax.plot(x, y, label=label, **style)
    ax.set_yscale("log")
    ax.set_xlabel("global step")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    return out


class LossCurves(L.Callback):
    """Record train/val loss and keep ``loss_curves.png`` up to date next to the checkpoints (see module doc)."""

    def __init__(self, every_n_steps: int | None = None, filename: str = "loss_curves.png"):
        super().__init__()
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1 or None, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.filename = filename
        self.train_steps: list[int] = []
        self.train_loss: list[float] = []
        self.val_steps: list[int] = []
        self.val_loss: list[float] = []

    # --- recording -------------------------------------------------------------------------------------------------
    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        every = self.every_n_steps or max(1, int(getattr(trainer, "log_every_n_steps", 50) or 1))
        if step < 1 or step % every or (self.train_steps and self.train_steps[-1] >= step):
            return
        value = _scalar(trainer.callback_metrics.get(TRAIN_KEY))
        if value is not None:
            _append(self.train_steps, self.train_loss, step, value)

    def _record_val(self, trainer: L.Trainer) -> None:
        value = _scalar(trainer.callback_metrics.get(VAL_KEY))
        if value is not None:  # a second read at the same step replaces the first
            _append(self.val_steps, self.val_loss, trainer.global_step, value)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Recorded here already (val/loss from validation_step is final now), so that a checkpoint written in
        # on_validation_end includes this point whatever the callbacks' order.
        if not trainer.sanity_checking:
            self._record_val(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._record_val(trainer)  # picks up a val/loss logged in the module's own on_validation_epoch_end
        self._write(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = _scalar(trainer.callback_metrics.get(TRAIN_KEY))
        if value is not None and trainer.global_step > 0:  # the last step, unless the interval just took it
            _append(self.train_steps, self.train_loss, trainer.global_step, value)
        self._write(trainer)

    # --- output ----------------------------------------------------------------------------------------------------
    def output_dir(self, trainer: L.Trainer) -> Path:
        """The checkpoint callback's dirpath, else ``trainer.log_dir``, else ``default_root_dir``."""
        ckpt = trainer.checkpoint_callback
        dirpath = getattr(ckpt, "dirpath", None) if ckpt is not None else None
        return Path(dirpath or trainer.log_dir or trainer.default_root_dir)

    def path(self, trainer: L.Trainer) -> Path:
        return self.output_dir(trainer) / self.filename

    def _write(self, trainer: L.Trainer) -> None:
        if not trainer.is_global_zero or not (self.train_steps or self.val_steps):
            return
        plot_loss_curves(self.path(trainer), (self.train_steps, self.train_loss), (self.val_steps, self.val_loss),
                         title=f"step {trainer.global_step}")

    # --- checkpoint state: plain lists, so a resumed run keeps its earlier points ---------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"train_steps": list(self.train_steps), "train_loss": list(self.train_loss),
                "val_steps": list(self.val_steps), "val_loss": list(self.val_loss)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_steps = [int(s) for s in state_dict.get("train_steps", [])]
        self.train_loss = [float(v) for v in state_dict.get("train_loss", [])]
        self.val_steps = [int(s) for s in state_dict.get("val_steps", [])]
        self.val_loss = [float(v) for v in state_dict.get("val_loss", [])]


__all__ = ["LossCurves", "plot_loss_curves"]
