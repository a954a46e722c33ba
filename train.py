"""Train a diffusion policy: python train.py --config configs/push_relaxed.yaml [--ckpt_path CKPT|auto] [--init_from CKPT]

LightningCLI: any option can be overridden, e.g. --trainer.max_epochs 5 --data.n_demos 25 --model.relax_alpha 1e-2.
--ckpt_path resumes a run exactly (optimizer, scheduler, EMA, step, data order; from an end-of-epoch checkpoint such
as last.ckpt); --ckpt_path auto picks the newest checkpoint of the run's folders that loads (and says which), or
starts fresh if there is none. --init_from fine-tunes from a checkpoint's (EMA) weights, e.g. an equivariant policy
into a relaxed one. Checkpoints are written atomically; last.ckpt is refreshed every epoch (LastCheckpoint).
"""
from __future__ import annotations

import sys
from pathlib import Path
import warnings
from collections.abc import Sequence

from equidiff_relaxed.errors import UserError, run_cli


def make_crash_safe(trainer) -> None:  # type: ignore[no-untyped-def]
    """Atomic checkpoint writes; a ModelCheckpoint asked for save_last gets an always-current LastCheckpoint
    instead (Lightning refreshes its last.ckpt only together with a top-k save)."""
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    from equidiff_relaxed.policy.checkpointing import AtomicCheckpointIO, LastCheckpoint, uses_stale_last

    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
    stale = [cb for cb in trainer.callbacks if uses_stale_last(cb)]
    has_last = any(isinstance(cb, LastCheckpoint) for cb in trainer.callbacks)
    for cb in stale:
        cb.save_last = False
        if not has_last:
            trainer.callbacks.append(LastCheckpoint(dirpath=cb.dirpath))
            has_last = True
            print("note: ModelCheckpoint(save_last=True) refreshes last.ckpt only with a top-k save; "
                  "writing last.ckpt every epoch with LastCheckpoint instead")


def resolve_auto_resume(trainer) -> str | None:  # type: ignore[no-untyped-def]
    """--ckpt_path auto: the newest valid checkpoint under the run's folders (default_root_dir, the checkpoint
    callbacks' and the logger's folders), or None (start fresh)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from equidiff_relaxed.policy.checkpointing import newest_valid_checkpoint

    folders = [trainer.default_root_dir]
    folders += [cb.dirpath for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath]
    folders += [lg.save_dir for lg in trainer.loggers if getattr(lg, "save_dir", None)]
    path, step, skipped = newest_valid_checkpoint(folders)
    for bad, why in skipped:
        print(f"skipped {bad}: {why}")
    if path is None:
        print(f"no checkpoint found under {', '.join(dict.fromkeys(str(f) for f in folders))}: starting fresh")
        return None
    print(f"resuming from {path} (step {step})")
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="escnn")
    from lightning.pytorch.cli import LightningCLI

    from equidiff_relaxed.data.datamodule import DemoDataModule
    from equidiff_relaxed.policy.checkpoint import init_module_from
    from equidiff_relaxed.policy.checkpointing import LastCheckpoint
    from equidiff_relaxed.policy.lightning_module import DiffusionPolicyModule
    from equidiff_relaxed.policy.pretrained import checkpoint_to_folder

    class CLI(LightningCLI):
        def add_arguments_to_parser(self, parser):  # type: ignore[no-untyped-def]
            parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume this run exactly")
            parser.add_argument("--init_from", type=str | None, default=None, help="initialise weights from")
            for name in ("horizon", "n_obs_steps", "n_action_steps"):
                parser.link_arguments(f"data.{name}", f"model.{name}")
            parser.link_arguments("seed_everything", "model.seed")

    cli = CLI(DiffusionPolicyModule, DemoDataModule, run=False, args=list(argv) if argv is not None else None,
              seed_everything_default=0, save_config_kwargs={"overwrite": True}, parser_kwargs={"description": __doc__})
    model, data = cli.model, cli.datamodule
    if cli.config.ckpt_path and cli.config.init_from:
        raise UserError("give --ckpt_path (resume) or --init_from (fine-tune), not both")
    if cli.config.init_from:
        model.trainer = None
        report = init_module_from(model, data, cli.config.init_from)
        print(f"initialised from {cli.config.init_from}" + (":" if report else " (all keys matched)"))
        for line in report:
            print(f"  {line}")
    make_crash_safe(cli.trainer)
    from equidiff_relaxed.policy.loss_curves import LossCurves

    if not any(isinstance(cb, LossCurves) for cb in cli.trainer.callbacks):
        # first, so the end-of-training checkpoint (checkpoint callbacks run last) holds the final train point
        cli.trainer.callbacks.insert(0, LossCurves())
    ckpt_path = cli.config.ckpt_path
    if ckpt_path == "auto":
        ckpt_path = resolve_auto_resume(cli.trainer)
    cli.trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
    best = cli.trainer.checkpoint_callback.best_model_path if cli.trainer.checkpoint_callback else ""
    print(f"done: logs and checkpoints in {cli.trainer.log_dir}" + (f"; best {best}" if best else ""))
    for cb in cli.trainer.callbacks:  # the policy folder (EMA weights, config.json) next to last.ckpt
        last = Path(cb.dirpath or "") / f"{cb.filename}.ckpt" if isinstance(cb, LastCheckpoint) else None
        if last is not None and last.is_file() and cli.trainer.is_global_zero:
            folder = checkpoint_to_folder(last, last.parent / "policy")
            print(f"policy folder: {folder} (python eval.py --checkpoint {folder} ...)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
