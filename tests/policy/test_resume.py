"""Resuming training: after a clean stop and after SIGKILL at several moments (mid-epoch, at an epoch end, during
a checkpoint write), ``train.py --ckpt_path auto`` reaches the requested epoch with the uninterrupted run's weights;
extending max_epochs trains to the new end; last.ckpt stays last.ckpt; invalid checkpoints are skipped."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from equidiff_relaxed.data.synthetic import make_push_buffer
from equidiff_relaxed.train.checkpointing import LastCheckpoint, checkpoint_problem, newest_valid_checkpoint
from tests.conftest import REPO

EPOCHS = 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "push.zarr"
    make_push_buffer(6, seed=2).save(path)
    return str(path)


def args(dataset: str, root, epochs: int = EPOCHS, *extra: str) -> list[str]:
    return ["--config", str(REPO / "configs/legacy/bench_push_equi.yaml"), "--data.dataset_path", dataset,
            "--trainer.default_root_dir", str(root), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--model.down_dims", "[8,16]", "--model.encoder_fields", "4", "--model.lift_fields", "4",
            "--data.batch_size", "16", "--trainer.max_epochs", str(epochs), *extra]


def train(argv: list[str]) -> None:
    from equidiff_relaxed.cli import train as command

    assert command.main(argv) == 0


def last_state(root) -> dict:
    return torch.load(root / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def straight(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("straight")
    train(args(dataset, root))
    return last_state(root)


def same_weights(a: dict, b: dict) -> bool:
    keys = [k for k in a["state_dict"] if a["state_dict"][k].is_floating_point()]
    return keys == [k for k in b["state_dict"] if b["state_dict"][k].is_floating_point()] and all(
        torch.allclose(a["state_dict"][k], b["state_dict"][k], rtol=1e-5, atol=1e-6) for k in keys)


KILL_DRIVER = textwrap.dedent("""
    import os, signal, sys
    import lightning as L
    sys.path.insert(0, {repo!r})
    moment = {moment!r}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    class Killer(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if moment == "mid_epoch" and trainer.current_epoch == 2 and batch_idx == 1:
                die()

        def on_train_epoch_end(self, trainer, pl_module):  # runs before the checkpoint callbacks
            if moment == "epoch_end" and trainer.current_epoch == 2:
                die()

    if moment == "checkpoint_write":  # the 3rd last.ckpt write dies half-way through its bytes
        import io
        import torch
        from equidiff_relaxed.train import checkpointing
        real_save, calls = torch.save, []

        def dying_save(obj, f, *a, **k):
            calls.append(1)
            if len(calls) < 3:
                return real_save(obj, f, *a, **k)
            buf = io.BytesIO()
            real_save(obj, buf)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            die()

        checkpointing.torch.save = dying_save

    fit = L.Trainer.fit

    def fit_with_killer(self, *a, **k):
        self.callbacks.append(Killer())
        return fit(self, *a, **k)

    L.Trainer.fit = fit_with_killer
    from equidiff_relaxed.cli import train as command
    command.main(sys.argv[1:])
""")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["mid_epoch", "epoch_end", "checkpoint_write"])
def test_sigkill_then_auto_resume_matches_uninterrupted_run(dataset, straight, tmp_path, moment):
    root = tmp_path / "run"
    driver = KILL_DRIVER.format(repo=str(REPO), moment=moment)
    proc = subprocess.run([sys.executable, "-c", driver, *args(dataset, root)], capture_output=True, text=True,
                          cwd=REPO, env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    before = last_state(root)  # a complete, loadable checkpoint survived the kill
    assert before["epoch"] < EPOCHS - 1
    if moment == "checkpoint_write":
        leftovers = [p.name for p in (root / "checkpoints").iterdir() if ".tmp-" in p.name]
        assert leftovers, "the write was killed half-way: its temporary file is left, the final name untouched"
    train(args(dataset, root, EPOCHS, "--ckpt_path", "auto"))
    after = last_state(root)
    assert (after["epoch"], after["global_step"]) == (straight["epoch"], straight["global_step"])
    assert same_weights(after, straight)
    assert sorted(p.name for p in (root / "checkpoints").glob("last*.ckpt")) == ["last.ckpt"]


@pytest.mark.slow
def test_clean_stop_then_resume_and_extend(dataset, straight, tmp_path, capsys):
    root = tmp_path / "run"
    train(args(dataset, root, 2))
    assert last_state(root)["epoch"] == 1
    assert (root / "checkpoints" / "loss_curves.png").stat().st_size > 0  # train.py adds LossCurves
    from equidiff_relaxed.policy.checkpoint import load_policy
    from equidiff_relaxed.policy.pretrained import load_pretrained

    folder = load_pretrained(root / "checkpoints" / "policy")  # train.py writes the policy folder next to last.ckpt
    ema = dict(load_policy(root / "checkpoints" / "last.ckpt").named_parameters())
    assert all(torch.equal(v, ema[k]) for k, v in folder.named_parameters())
    train(args(dataset, root, EPOCHS, "--ckpt_path", str(root / "checkpoints" / "last.ckpt")))
    assert last_state(root)["global_step"] == straight["global_step"]
    train(args(dataset, root, EPOCHS + 2, "--ckpt_path", "auto"))  # a larger max_epochs trains on to the new end
    assert "resuming from" in capsys.readouterr().out
    assert last_state(root)["epoch"] == EPOCHS + 1
    steps = last_state(root)["global_step"] + 3  # or a larger max_steps: trains to exactly that step
    train(args(dataset, root, -1, "--trainer.max_steps", str(steps), "--ckpt_path", "auto"))
    assert last_state(root)["global_step"] == steps
    assert sorted(p.name for p in (root / "checkpoints").glob("last*.ckpt")) == ["last.ckpt"]


def test_auto_resume_skips_invalid_checkpoints_and_starts_fresh_without_any(dataset, tmp_path, capsys):
    root = tmp_path / "run"
    train(args(dataset, root, 1, "--ckpt_path", "auto"))
    assert "starting fresh" in capsys.readouterr().out
    good = root / "checkpoints" / "last.ckpt"
    bad = root / "checkpoints" / "zzz.ckpt"
    bad.write_bytes(good.read_bytes()[:1000])  # truncated, and newer than every valid file
    path, step, skipped = newest_valid_checkpoint([root])
    assert path == good.resolve() and step == last_state(root)["global_step"]
    assert [p.name for p, _ in skipped] == ["zzz.ckpt"] and "not a torch checkpoint: corrupt or truncated" in skipped[0][1]
    assert checkpoint_problem(good) is None
    train(args(dataset, root, 2, "--ckpt_path", "auto"))
    out = capsys.readouterr().out
    assert "skipped" in out and "zzz.ckpt" in out and f"resuming from {good.resolve()}" in out


def test_last_checkpoint_is_written_every_epoch_whatever_validation_says(dataset, tmp_path):
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from equidiff_relaxed.train.datamodule import DemoDataModule
    from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule

    class Epochs(L.Callback):
        def __init__(self):
            self.saved: list[int] = []

        def on_train_epoch_end(self, trainer, pl_module):
            path = tmp_path / "last.ckpt"
            self.saved.append(torch.load(path, weights_only=True)["epoch"] if path.exists() else -1)

    seen = Epochs()
    # a top-k checkpoint that never saves (top-0): Lightning's own save_last would never refresh last.ckpt here
    callbacks = [seen, ModelCheckpoint(dirpath=tmp_path, monitor="val/loss", save_top_k=0), LastCheckpoint(tmp_path)]
    dm = DemoDataModule(dataset, horizon=8, n_obs_steps=2, n_action_steps=4, batch_size=16, val_ratio=0.2)
    module = DiffusionPolicyModule(model="plain", horizon=8, n_obs_steps=2, n_action_steps=4, down_dims=[8, 16],
                                   encoder_hidden=16, encoder_dim=8)
    L.Trainer(max_epochs=3, logger=False, enable_progress_bar=False, enable_model_summary=False,
              callbacks=callbacks, default_root_dir=tmp_path).fit(module, datamodule=dm)
    # read at the start of each epoch-end hook (before the checkpoint callbacks): the previous epoch's file
    assert seen.saved == [-1, 0, 1]
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_resumable_checkpoint_and_exits_130(dataset, straight, tmp_path, signum, capsys,
                                                          monkeypatch):
    import lightning as L

    class Signaller(L.Callback):  # the signal arrives during step 3, as from another process (e.g. Ctrl-C)
        sent = False

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 2 and not self.sent:
                self.sent = True
                os.kill(os.getpid(), signum)

    fit = L.Trainer.fit

    def fit_with_signaller(self, *a, **k):
        self.callbacks.append(Signaller())
        return fit(self, *a, **k)

    monkeypatch.setattr(L.Trainer, "fit", fit_with_signaller)
    root = tmp_path / "run"
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert _run_cli(args(dataset, root)) == 130
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers, "handlers restored"
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "interrupted at step 3; resume with --ckpt_path auto"
    assert last_state(root)["global_step"] == 3  # the step in flight finished and was saved
    assert not [p for p in (root / "checkpoints").iterdir() if ".tmp-" in p.name]
    monkeypatch.setattr(L.Trainer, "fit", fit)
    train(args(dataset, root, EPOCHS, "--ckpt_path", "auto"))
    after = last_state(root)
    assert (after["epoch"], after["global_step"]) == (straight["epoch"], straight["global_step"])


def _run_cli(argv: list[str]) -> int:
    from equidiff_relaxed.cli import train as command
    from equidiff_relaxed.errors import run_cli

    return run_cli(command.main, argv)


def _digest(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_non_empty_run_folder_needs_resume_or_overwrite(dataset, tmp_path, capsys):
    root = tmp_path / "run"
    train(args(dataset, root, 1))
    (root / "notes.txt").write_text("mine")
    before = _digest(root)
    capsys.readouterr()
    assert _run_cli(args(dataset, root, 1)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {root}: the run folder is not empty; resume it with --ckpt_path auto, replace it with "
                   "--overwrite, or choose another --out"]
    assert _digest(root) == before, "a refused run touches nothing"
    (root / "checkpoints" / "old.ckpt").write_bytes((root / "checkpoints" / "last.ckpt").read_bytes())
    train(args(dataset, root, 1, "--overwrite", "true"))
    assert not (root / "checkpoints" / "old.ckpt").exists(), "--overwrite deletes the old run's checkpoints"
    assert (root / "notes.txt").read_text() == "mine", "... and nothing else in the folder"
    assert last_state(root)["epoch"] == 0
    inside = root / "checkpoints" / "data.zarr"
    make_push_buffer(6, seed=2).save(inside)
    assert _run_cli(args(str(inside), root, 1, "--overwrite", "true")) == 2
    assert "would delete" in capsys.readouterr().err and inside.exists()
