"""Crash-safe checkpoints: an always-current ``last.ckpt``, atomic writes, and finding the newest valid checkpoint.

Why: Lightning 2.5+'s ``ModelCheckpoint(save_last=True)`` refreshes ``last.ckpt`` only at a step where it also saved
a top-k checkpoint. With ``monitor="val/loss"`` that stops as soon as the validation loss stops improving, and with
``save_top_k=0`` it happens only when training ends. A run resumed from ``last.ckpt`` then restarts from a stale
epoch (and, with the same ``max_epochs``, stops "early" at the requested epoch count having repeated work); a run
killed mid-way has no checkpoint at all. And ``torch.save`` writes in place, so a kill during a write leaves a
truncated file under the final name.

- :class:`LastCheckpoint` writes ``<dirpath>/last.ckpt`` at the end of every ``every_n_epochs``-th training epoch
  and when training ends, whatever validation says. Top-k checkpoints by a metric stay a separate
  ``ModelCheckpoint`` (with ``save_last`` off).
- :class:`AtomicCheckpointIO` (a Lightning ``CheckpointIO``) writes every checkpoint to a temporary sibling, fsyncs
  it, renames it onto the final name and fsyncs the folder: a SIGKILL at any moment leaves either the old or the
  new complete file.
- :class:`StopOnSignal` turns SIGINT / SIGTERM during training into a clean stop: the current step finishes,
  ``last.ckpt`` is written (atomically) and :class:`TrainingStopped` ends ``fit``, so ``--ckpt_path auto`` resumes.
- :func:`newest_valid_checkpoint` scans run folders for ``*.ckpt``, skips files that do not load, and returns the one
  with the most optimizer steps (ties: the newest file): ``train.py --ckpt_path auto``.
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.policy.checkpoint import read_checkpoint

TMP_MARK = ".tmp-"  # temporary checkpoint names: .<name>.tmp-<pid> (never matched by *.ckpt)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` through a temporary sibling: write, flush, fsync, rename, fsync the folder.
    On any error (or a kill) the final name keeps its previous content; the temporary file is removed on errors."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO whose local writes are atomic (:func:`atomic_torch_save`); remote paths (``s3://``
    and other fsspec URLs) fall back to Lightning's own writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_torch_save(checkpoint, path)


class LastCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt`` after every ``every_n_epochs``-th training epoch and at the end of training.

    Independent of validation and of any top-k checkpointing, so the file is always the latest state: resume with
    ``--ckpt_path <dir>/last.ckpt`` (or ``auto``). Resuming from an end-of-epoch checkpoint is exact (same next
    losses and final weights as a run that never stopped); the end-of-training checkpoint of a ``max_steps`` run may
    be mid-epoch. ``dirpath=None`` resolves like ``ModelCheckpoint`` (the logger's folder or
    ``default_root_dir``/checkpoints).
    """

    def __init__(self, dirpath: str | os.PathLike | None = None, every_n_epochs: int = 1, filename: str = "last"):
        super().__init__(dirpath=dirpath, filename=filename, monitor=None, save_top_k=1, save_last=False,
                         every_n_epochs=every_n_epochs, save_on_train_epoch_end=True, enable_version_counter=False,
                         auto_insert_metric_name=False)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(kind="last", filename=self.filename, every_n_epochs=self._every_n_epochs)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Also keep the final state (e.g. a ``max_steps`` run that ends inside an epoch)."""
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))


class TrainingStopped(Exception):
    """Raised inside ``trainer.fit`` once the state is saved after a SIGINT / SIGTERM (``step``: its global step)."""

    def __init__(self, step: int):
        super().__init__(f"stopped at step {step}")
        self.step = step


def last_checkpoint_path(trainer: L.Trainer) -> Path:
    """Where :class:`LastCheckpoint` keeps ``last.ckpt`` (``<root>/checkpoints/last.ckpt`` without one)."""
    for cb in trainer.callbacks:
        if isinstance(cb, LastCheckpoint) and cb.dirpath:
            return Path(cb.dirpath) / f"{cb.filename}.ckpt"
    return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"


class StopOnSignal(L.Callback):
    """A Lightning callback: SIGINT and SIGTERM during training set a flag; at the end of the current optimizer
    step (or epoch) the full training state is written to ``last.ckpt`` (atomically, through the trainer's
    checkpoint IO) and :class:`TrainingStopped` ends ``fit``. A second SIGINT stops at once (Python's default)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        super().__init__()
        self.signalled: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.signalled = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: stop now

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
            for s in self.SIGNALS:
                signal.signal(s, self._handler)

    def _stop_if_signalled(self, trainer: L.Trainer) -> None:
        if self.signalled is None:
            return
        trainer.save_checkpoint(str(last_checkpoint_path(trainer)))
        self._restore()
        raise TrainingStopped(trainer.global_step)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._stop_if_signalled(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop_if_signalled(trainer)

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()


def load_training_checkpoint(path: str | os.PathLike) -> tuple[dict | None, str | None]:
    """(state, None) if ``path`` loads as a Lightning checkpoint with weights and a step count, else (None, why not)
    (:func:`read_checkpoint` without raising: for scanning folders of candidates)."""
    try:
        return read_checkpoint(path), None
    except UserError as err:
        return None, err.message


def checkpoint_problem(path: str | os.PathLike) -> str | None:
    """None if ``path`` loads as a Lightning checkpoint (weights_only) with weights and a step count, else why not."""
    return load_training_checkpoint(path)[1]


def newest_valid_checkpoint(folders: list[str | os.PathLike]) -> tuple[Path | None, int, list[tuple[Path, str]]]:
    """The loadable ``*.ckpt`` under ``folders`` (searched recursively) with the most optimizer steps, ties broken by
    modification time. Returns (path or None, its global step, [(skipped path, reason)])."""
    candidates: dict[Path, None] = {}
    for folder in folders:
        root = Path(folder)
        if root.is_file() and root.suffix == ".ckpt":
            candidates[root.resolve()] = None
        elif root.is_dir():
            for p in root.rglob("*.ckpt"):
                candidates[p.resolve()] = None
    best: tuple[int, float, Path] | None = None
    skipped: list[tuple[Path, str]] = []
    for path in candidates:
        state, problem = load_training_checkpoint(path)  # each file is read once
        if state is None:
            skipped.append((path, str(problem)))
            continue
        key = (int(state["global_step"]), path.stat().st_mtime, path)
        if best is None or key[:2] > best[:2]:
            best = key
    return (best[2], best[0], skipped) if best else (None, 0, skipped)


def uses_stale_last(callback: Any) -> bool:
    """True for a plain ``ModelCheckpoint`` asked for ``save_last`` (which Lightning refreshes only with top-k)."""
    return isinstance(callback, ModelCheckpoint) and not isinstance(callback, LastCheckpoint) and bool(
        callback.save_last)


__all__ = ["AtomicCheckpointIO", "LastCheckpoint", "StopOnSignal", "TrainingStopped", "last_checkpoint_path", "atomic_torch_save", "checkpoint_problem",
           "load_training_checkpoint", "newest_valid_checkpoint", "uses_stale_last"]
