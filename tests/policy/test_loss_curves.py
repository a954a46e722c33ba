"""LossCurves: loss_curves.png next to the checkpoints, one val point per validation, history kept across resume."""
import lightning as L
import pytest

from equidiff_relaxed.policy.checkpoint import load_checkpoint
from equidiff_relaxed.train.checkpointing import LastCheckpoint
from equidiff_relaxed.train.ema import EMA
from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule
from equidiff_relaxed.train.loss_curves import LossCurves, _thin, plot_loss_curves
from tests.policy.test_training import MODEL, StopAfter, datamodule
from tests.policy.test_training import dataset  # noqa: F401  (the tiny push dataset fixture)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class CountValidations(L.Callback):
    def __init__(self):
        self.count = 0

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.count += 1


def assert_png(path):
    from matplotlib.image import imread

    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert not [p for p in path.parent.iterdir() if ".tmp-" in p.name]  # the atomic write left no temporary


def fit(data: str, root, ckpt_dir, curves: LossCurves, epochs: int, stop_after: int | None = None, ckpt_path=None,
        **kw):
    counter = CountValidations()
    # as train.py sets it up: a ModelCheckpoint (trainer.checkpoint_callback; saving in on_validation_end) and a
    # LastCheckpoint (saving in on_train_epoch_end)
    top = L.pytorch.callbacks.ModelCheckpoint(dirpath=ckpt_dir, save_on_train_epoch_end=False)
    callbacks = [EMA(0.9), top, LastCheckpoint(dirpath=ckpt_dir), counter]
    if stop_after:
        callbacks.append(StopAfter(stop_after))
    trainer = L.Trainer(max_epochs=epochs, default_root_dir=root, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=callbacks, num_sanity_val_steps=0,
                        limit_train_batches=3, limit_val_batches=1, **kw)
    trainer.callbacks.append(curves)  # after the checkpoint callbacks: the checkpoints still get its points
    trainer.fit(DiffusionPolicyModule(model="plain", **MODEL), datamodule=datamodule(data), ckpt_path=ckpt_path)
    return trainer, counter.count


def test_png_next_to_checkpoints_and_history_survives_resume(dataset, tmp_path):  # noqa: F811
    ckpt_dir = tmp_path / "ckpts"
    L.seed_everything(0)
    first = LossCurves(every_n_steps=1)
    trainer, n_val = fit(dataset, tmp_path, ckpt_dir, first, epochs=3, stop_after=2)
    assert n_val == 2 and len(first.val_steps) == len(first.val_loss) == n_val
    assert first.val_steps == sorted(first.val_steps) and first.val_steps[-1] == trainer.global_step
    assert first.train_steps == list(range(1, trainer.global_step + 1))  # every_n_steps=1: every optimizer step
    assert all(v > 0 for v in first.train_loss + first.val_loss)
    assert first.path(trainer) == ckpt_dir / "loss_curves.png"
    assert_png(ckpt_dir / "loss_curves.png")
    for ckpt in (ckpt_dir / "last.ckpt", trainer.checkpoint_callback.best_model_path):  # saved at epoch / val end
        saved = load_checkpoint(ckpt)["callbacks"]["LossCurves"]  # plain lists: loads with weights_only
        assert saved == first.state_dict()

    (ckpt_dir / "loss_curves.png").unlink()
    resumed = LossCurves(every_n_steps=1)
    trainer, n_val_resumed = fit(dataset, tmp_path, ckpt_dir, resumed, epochs=3, ckpt_path=str(ckpt_dir / "last.ckpt"))
    assert n_val_resumed == 1
    assert resumed.val_steps[:n_val] == first.val_steps and resumed.val_loss[:n_val] == first.val_loss
    assert len(resumed.val_steps) == n_val + n_val_resumed
    k = len(first.train_steps)
    assert resumed.train_steps[:k] == first.train_steps and resumed.train_loss[:k] == first.train_loss
    assert resumed.train_steps == list(range(1, trainer.global_step + 1))
    assert_png(ckpt_dir / "loss_curves.png")


def test_no_checkpointing_no_logger_writes_to_default_root_at_log_interval(dataset, tmp_path):  # noqa: F811
    curves = LossCurves()  # every_n_steps=None: the trainer's log_every_n_steps
    counter = CountValidations()
    L.seed_everything(0)
    trainer = L.Trainer(max_steps=5, max_epochs=-1, default_root_dir=tmp_path, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, log_every_n_steps=2, val_check_interval=2, check_val_every_n_epoch=None,
                        limit_val_batches=1,
                        callbacks=[curves, counter])
    trainer.fit(DiffusionPolicyModule(model="plain", **MODEL), datamodule=datamodule(dataset))
    assert curves.train_steps == [2, 4, 5]  # every 2 steps, plus the last one at the end of training
    assert len(curves.val_steps) == counter.count == 2 and curves.val_steps == [2, 4]
    assert curves.path(trainer) == tmp_path / "loss_curves.png"
    assert_png(tmp_path / "loss_curves.png")


def test_plot_and_state_are_plain(tmp_path):
    out = plot_loss_curves(tmp_path / "sub" / "curves.png", ([1, 2, 3], [1.0, 0.5, 0.0]), ([], []))  # 0 dropped
    assert_png(out)
    plot_loss_curves(out, ([], []), ([], []))  # nothing to draw still gives a valid (empty) PNG, replaced in place
    assert_png(out)
    x, y = _thin(list(range(1, 10_001)), [2.0] * 5000 + [8.0] * 5000, max_points=100)  # long runs: bin averages
    assert len(x) == 100 and x[-1] == 10_000 and y[0] == pytest.approx(2.0) and y[-1] == pytest.approx(8.0)
    curves = LossCurves()
    curves.load_state_dict({"train_steps": [1, 2], "train_loss": [0.5, 0.25], "val_steps": [2], "val_loss": [0.3]})
    state = curves.state_dict()
    assert state == {"train_steps": [1, 2], "train_loss": [0.5, 0.25], "val_steps": [2], "val_loss": [0.3]}
    assert all(type(v) in (int, float) for values in state.values() for v in values)
    with pytest.raises(ValueError, match="every_n_steps"):
        LossCurves(every_n_steps=0)
