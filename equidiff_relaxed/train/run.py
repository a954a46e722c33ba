"""How a training run is built and run, for train.py and for the sweeps alike.

:func:`build_cli` parses a train.py configuration (command-line arguments, or the same YAML as a plain dict) with
LightningCLI and instantiates the module, the datamodule and the trainer from it (trainer section included);
:func:`fit` trains them crash-safely and writes the policy folder. T, To and Ta (``horizon``, ``n_obs_steps``,
``n_action_steps``) are declared once, in the ``data:`` section: the parser links them into the model's
:class:`~equidiff_relaxed.policy.config.PolicyConfig`, as it links ``seed_everything`` into ``model.seed``.

One run folder holds everything a run writes (:func:`run_folder`): ``--out DIR`` (the same as
``--trainer.default_root_dir DIR``; default ``runs/<config name>-<model>``) gets ``checkpoints/last.ckpt``, the
policy folder ``checkpoints/policy/``, ``logs/version_N/`` (CSV metrics and the resolved ``config.yaml``) and
``checkpoints/loss_curves.png``. Checkpoint callbacks without a ``dirpath`` write to ``DIR/checkpoints``; without a logger in the
config the run logs CSV to ``DIR/logs`` (``--trainer.logger false``: none; any Lightning logger given explicitly is
kept as it is).

A run folder that already holds files is refused (one line, nothing touched) unless the run resumes (``--ckpt_path``)
or replaces it (``--overwrite``: its ``checkpoints/`` and ``logs/`` are deleted first). SIGINT / SIGTERM while
training finish the current step, write ``last.ckpt`` atomically and stop with
:class:`~equidiff_relaxed.errors.Interrupted` (``interrupted at step N; resume with --ckpt_path auto``). Lightning's
start-up banner is silenced; without a terminal, its progress bar becomes plain lines (:class:`StepProgress`).
"""
from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

from equidiff_relaxed.errors import Interrupted, UserError

LINKED_TO_MODEL = ("horizon", "n_obs_steps", "n_action_steps")  # data.<name> -> model.<name>
CSV_LOGGER = "lightning.pytorch.loggers.CSVLogger"
STEP_PROGRESS = "equidiff_relaxed.train.progress.StepProgress"
RUN_OUTPUTS = ("checkpoints", "logs")  # what a run writes into its folder (--overwrite deletes them first)
QUIET_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.fabric.utilities.seed")  # "Seed set", "GPU available", "TPU available", tips


def quiet_lightning() -> None:
    """Silence Lightning's start-up banner (seed, accelerators, tips) and the deprecation warnings of the libraries
    it calls, so that a user error is the first and only line a failed start prints."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def run_folder(config: Any) -> str:
    """The run folder of a parsed train config: ``out``, else ``trainer.default_root_dir``, else
    ``runs/<first config file's name>-<model>`` (``runs/train-<model>`` without a config file)."""
    if config.get("out"):
        return str(config["out"])
    if config.get("trainer.default_root_dir"):
        return str(config["trainer.default_root_dir"])
    files = config.get("config") or []
    stem = Path(str(files[0])).stem if files else "train"
    return str(Path("runs") / f"{stem}-{config.get('model.model') or 'relaxed'}")


def apply_family_defaults(config: Any) -> None:
    """A recipe's ``families:`` section ({family: {option: value}}, checked against the registry) gives the chosen
    family's options that ``model.<option>`` leaves unset; the other families' entries are not used. So one recipe
    serves every family, while an option given for a family that does not take it is refused."""
    from equidiff_relaxed.policy.families import check_option_sections

    sections = check_option_sections(config.get("families") or {})
    for name, value in sections.get(str(config.get("model.model")), {}).items():
        if config.get(f"model.{name}") is None:
            config[f"model.{name}"] = value


def check_run_folder(config: Any) -> None:
    """Refuse a run folder that already holds files, unless the run resumes (``ckpt_path``) or replaces it
    (``overwrite``); with ``overwrite``, delete the old run's :data:`RUN_OUTPUTS` (never an input inside them).
    Runs before anything is built or written."""
    root = Path(run_folder(config))
    busy = root.is_dir() and any(root.iterdir())
    if not busy or config.get("ckpt_path"):
        return
    if not config.get("overwrite"):
        raise UserError("the run folder is not empty; resume it with --ckpt_path auto, replace it with --overwrite, "
                        "or choose another --out", root)
    doomed = [root / name for name in RUN_OUTPUTS if (root / name).exists()]
    inputs = [config.get("init_from"), config.get("data.dataset_path")]
    for path in doomed:
        for item in filter(None, inputs):
            if Path(item).resolve().is_relative_to(path.resolve()):
                raise UserError(f"--overwrite would delete {item}, an input of this run; move it first", path)
    for path in doomed:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def lines_instead_of_bar(config: Any) -> None:
    """Without a terminal, Lightning's progress bar writes hundreds of carriage-return frames into the log: switch
    it off and print :class:`StepProgress` lines instead (unless the config already has such a callback)."""
    from jsonargparse import Namespace

    from equidiff_relaxed.progress import is_terminal

    if is_terminal() or config.get("trainer.enable_progress_bar") is False:
        return
    config["trainer.enable_progress_bar"] = False
    callbacks = list(config.get("trainer.callbacks") or [])
    if not any(str(cb.get("class_path", "")).endswith("StepProgress") for cb in callbacks if hasattr(cb, "get")):
        callbacks.append(Namespace(class_path=STEP_PROGRESS, init_args=Namespace(every_n_steps=None)))
        config["trainer.callbacks"] = callbacks


def place_run_outputs(config: Any) -> None:
    """Point the trainer, its default logger and its checkpoint callbacks without a ``dirpath`` at the run folder
    (:func:`run_folder`), in the parsed config, before anything is built."""
    from jsonargparse import Namespace

    root = run_folder(config)
    config["trainer.default_root_dir"] = root
    if config.get("trainer.logger") in (None, True):
        config["trainer.logger"] = Namespace(class_path=CSV_LOGGER, init_args=Namespace(save_dir=root, name="logs"))
    for cb in config.get("trainer.callbacks") or []:
        args = cb.get("init_args") if isinstance(cb, Namespace) else None
        if args is not None and "dirpath" in args and args.get("dirpath") is None and is_checkpoint_entry(cb):
            args["dirpath"] = str(Path(root) / "checkpoints")


def is_checkpoint_entry(entry: Any) -> bool:
    """True for a config callback entry (a dict or Namespace with ``class_path``) whose class is a Lightning
    Checkpoint."""
    import importlib

    from lightning.pytorch.callbacks import Checkpoint

    if not hasattr(entry, "get"):
        return False
    module, _, name = str(entry.get("class_path", "")).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module or "lightning.pytorch.callbacks"), name, None)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, Checkpoint)


def build_cli(args: list[str] | dict[str, Any] | None, description: str | None = None) -> Any:
    """A LightningCLI (``run=False``) for ``args``: command-line arguments (``--config x.yaml --data.n_demos 25``)
    or a config dict shaped like train.py's YAML. Its ``model``, ``datamodule`` and ``trainer`` are built; extra
    entries ``ckpt_path`` (resume exactly; ``auto``: the newest valid checkpoint) and ``init_from`` (fine-tune
    from a checkpoint's EMA weights) are read by :func:`fit`."""
    from lightning.pytorch.cli import LightningCLI

    from equidiff_relaxed.train.datamodule import DemoDataModule
    from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule

    class TrainCLI(LightningCLI):
        def add_arguments_to_parser(self, parser):  # type: ignore[no-untyped-def]
            parser.add_argument("--ckpt_path", type=str | None, default=None,
                                help="resume this run exactly from a checkpoint (auto: the run's newest valid one)")
            parser.add_argument("--init_from", type=str | None, default=None,
                                help="initialise the weights from a checkpoint's (EMA) weights and train anew")
            parser.add_argument("--out", type=str | None, default=None,
                                help="the run folder: checkpoints/ (last.ckpt, policy/, loss_curves.png) and logs/ "
                                     "(default: trainer.default_root_dir, else runs/<config name>-<model>)")
            parser.add_argument("--families", type=dict[str, dict[str, Any]] | None, default=None,
                                help="per-family option defaults of a recipe, {family: {option: value}}: applied "
                                     "to the chosen family's options that --model.<option> leaves unset")
            parser.add_argument("--overwrite", type=bool, default=False,
                                help="train into a run folder that holds an earlier run: its checkpoints/ and logs/ "
                                     "are deleted first (without it, a non-empty folder is refused unless "
                                     "--ckpt_path resumes it)")
            for name in LINKED_TO_MODEL:
                parser.link_arguments(f"data.{name}", f"model.{name}")
            parser.link_arguments("seed_everything", "model.seed")

        def parse_arguments(self, parser, args):  # type: ignore[no-untyped-def]
            from jsonargparse import ArgumentError

            from equidiff_relaxed.option_errors import parse_error

            try:
                super().parse_arguments(parser, args)
            except ArgumentError as err:  # an unknown option or a bad value: one line, like every command
                raise parse_error(err, parser, args if isinstance(args, list) else [], "equidiff-train") from None

        def before_instantiate_classes(self) -> None:
            apply_family_defaults(self.config)
            check_run_folder(self.config)
            lines_instead_of_bar(self.config)
            place_run_outputs(self.config)

    quiet_lightning()
    return TrainCLI(DiffusionPolicyModule, DemoDataModule, run=False, args=args, seed_everything_default=0,
                    save_config_kwargs={"overwrite": True},
                    parser_kwargs={"description": description, "exit_on_error": False})


def make_crash_safe(trainer) -> None:  # type: ignore[no-untyped-def]
    """Atomic checkpoint writes; a ModelCheckpoint asked for save_last gets an always-current LastCheckpoint
    instead (Lightning refreshes its last.ckpt only together with a top-k save)."""
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    from equidiff_relaxed.train.checkpointing import AtomicCheckpointIO, LastCheckpoint, uses_stale_last

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

    from equidiff_relaxed.train.checkpointing import newest_valid_checkpoint

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


def fit(cli: Any, log: Callable[[str], Any] = print) -> list[Path]:
    """Train ``cli``'s model (resuming or fine-tuning as its ``ckpt_path`` / ``init_from`` say), with atomic
    checkpoints and the loss-curve callback; then write the policy folder (EMA weights, config.json) next to each
    ``last.ckpt``. Returns the ``last.ckpt`` paths."""
    from equidiff_relaxed.policy.checkpoint import init_module_from
    from equidiff_relaxed.train.checkpointing import LastCheckpoint
    from equidiff_relaxed.train.loss_curves import LossCurves
    from equidiff_relaxed.policy.pretrained import checkpoint_to_folder

    model, data, trainer = cli.model, cli.datamodule, cli.trainer
    if cli.config.ckpt_path and cli.config.init_from:
        raise UserError("give --ckpt_path (resume) or --init_from (fine-tune), not both")
    if cli.config.init_from:
        model.trainer = None
        report = init_module_from(model, data, cli.config.init_from)
        log(f"initialised from {cli.config.init_from}" + (":" if report else " (all keys matched)"))
        for line in report:
            log(f"  {line}")
    if model.policy is None:  # build it now: a bad model / data combination stops before anything is written
        data.setup("fit")
        model.build(data.shape_meta, list(data.symmetry_center), data.reflection_axis)
    make_crash_safe(trainer)
    if not any(isinstance(cb, LossCurves) for cb in trainer.callbacks):
        # first, so the end-of-training checkpoint (checkpoint callbacks run last) holds the final train point
        trainer.callbacks.insert(0, LossCurves())
    ckpt_path = cli.config.ckpt_path
    if ckpt_path == "auto":
        ckpt_path = resolve_auto_resume(trainer)
    from equidiff_relaxed.train.checkpointing import StopOnSignal, TrainingStopped

    stop = StopOnSignal()
    trainer.callbacks.append(stop)
    try:
        trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
    except TrainingStopped as stopped:
        raise Interrupted(f"interrupted at step {stopped.step}; resume with --ckpt_path auto") from None
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    log(f"done: run folder {trainer.default_root_dir}" + (f" (logs in {trainer.log_dir})" if trainer.loggers else "")
        + (f"; best {best}" if best and not best.endswith("last.ckpt") else ""))
    written = []
    for cb in trainer.callbacks:
        last = Path(cb.dirpath or "") / f"{cb.filename}.ckpt" if isinstance(cb, LastCheckpoint) else None
        if last is not None and last.is_file() and trainer.is_global_zero:
            folder = checkpoint_to_folder(last, last.parent / "policy")
            log(f"policy folder: {folder} (evaluate it: equidiff-eval --checkpoint {folder} --out DIR)")
            written.append(last)
    return written


__all__ = ["LINKED_TO_MODEL", "apply_family_defaults", "build_cli", "check_run_folder", "fit",
           "make_crash_safe", "place_run_outputs", "quiet_lightning", "resolve_auto_resume", "run_folder"]
