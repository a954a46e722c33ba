import math

import lightning as L
import numpy as np
import pytest
import torch

from equidiff_relaxed.train.datamodule import DemoDataModule
from equidiff_relaxed.data.sampler import SequenceSampler
from equidiff_relaxed.data.synthetic import make_push_buffer
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.policy.checkpoint import init_policy_from, load_checkpoint, load_policy
from equidiff_relaxed.train.ema import EMA
from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule
from equidiff_relaxed.symmetry import rotate_field
from tests.conftest import run_script
from tests.policy.conftest import CENTER, make_policy, obs_batch

MODEL = dict(horizon=8, n_obs_steps=2, n_action_steps=4, down_dims=[8, 16], encoder_hidden=32, encoder_dim=16,
             encoder_fields=4, lift_fields=4, n_groups=4, ddim_steps=4, warmup_steps=2, lr=3e-3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "push.zarr"
    make_push_buffer(6, seed=2).save(path)
    return str(path)


def datamodule(path: str, **kw) -> DemoDataModule:
    return DemoDataModule(path, horizon=8, n_obs_steps=2, n_action_steps=4, batch_size=16, val_ratio=0.2, **kw)


class LossRecorder(L.Callback):
    def __init__(self):
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


class StopAfter(L.Callback):
    """Interrupt a run after ``epochs`` epochs (same schedule as the full run, unlike a smaller max_epochs)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def trainer(root, epochs: int, recorder: LossRecorder | None = None, stop_after: int | None = None,
            **kw) -> L.Trainer:
    callbacks = [EMA(0.9), L.pytorch.callbacks.ModelCheckpoint(dirpath=root, save_last=True)]
    if recorder:
        callbacks.append(recorder)
    if stop_after:
        callbacks.append(StopAfter(stop_after))
    return L.Trainer(max_epochs=epochs, default_root_dir=root, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, callbacks=callbacks, gradient_clip_val=1.0, **kw)


@pytest.mark.slow
def test_tiny_model_overfits_two_episodes():
    buf = make_push_buffer(2, lengths=[12, 12], seed=3)
    data = buf.load_arrays(["pusher_pos", "puck_pos", "action"])
    torch.manual_seed(0)
    policy = DiffusionPolicy(buf.shape_meta, "plain", horizon=8, n_obs_steps=2, n_action_steps=4, down_dims=(32, 64),
                             encoder_dim=32, symmetry_center=CENTER)
    policy.fit_normalizer(data)
    s = SequenceSampler(data, buf.episode_ends, 8, 2, 4, ["pusher_pos", "puck_pos"])
    windows = [s.sample(i) for i in range(len(s))]
    batch = {"obs": {k: torch.tensor(np.stack([w[k] for w in windows])) for k in ("pusher_pos", "puck_pos")},
             "action": torch.tensor(np.stack([w["action"] for w in windows]))}
    opt = torch.optim.AdamW(policy.parameters(), lr=2e-3)
    losses = []
    for step in range(300):
        loss = policy.compute_loss(batch, torch.Generator().manual_seed(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[:10]) > 10 * np.mean(losses[-20:]), (np.mean(losses[:10]), np.mean(losses[-20:]))


def test_resume_gives_the_same_next_losses(dataset, tmp_path):
    straight = LossRecorder()
    L.seed_everything(0)
    trainer(tmp_path / "a", 3, straight).fit(DiffusionPolicyModule(model="relaxed", **MODEL), datamodule=datamodule(dataset))
    L.seed_everything(0)
    first = LossRecorder()
    trainer(tmp_path / "b", 3, first, stop_after=2).fit(DiffusionPolicyModule(model="relaxed", **MODEL), datamodule=datamodule(dataset))
    L.seed_everything(123)  # a different global RNG state must not matter
    resumed = LossRecorder()
    trainer(tmp_path / "b", 3, resumed).fit(DiffusionPolicyModule(model="relaxed", **MODEL), datamodule=datamodule(dataset),
                                            ckpt_path=str(tmp_path / "b" / "last.ckpt"))
    assert len(first.losses) + len(resumed.losses) == len(straight.losses)
    assert np.allclose(first.losses + resumed.losses, straight.losses, rtol=1e-5, atol=1e-7)
    # the checkpoint is plain data: loads with weights_only, carries EMA, shape_meta and the normalizer
    ckpt = load_checkpoint(tmp_path / "b" / "last.ckpt")
    assert ckpt["callbacks"]["EMA"]["updates"] == len(first.losses) + len(resumed.losses)
    assert ckpt["hyper_parameters"]["shape_meta"]["action"]["rep"] == "pos2"
    assert any(k.startswith("policy.normalizer.fields.action") for k in ckpt["state_dict"])
    policy = load_policy(tmp_path / "b" / "last.ckpt")
    assert policy.model_family == "relaxed" and not policy.training


def test_equivariant_checkpoint_initialises_relaxed_with_identical_outputs(dataset, tmp_path):
    L.seed_everything(0)
    trainer(tmp_path, 1).fit(DiffusionPolicyModule(model="equi", **MODEL), datamodule=datamodule(dataset))
    equi = load_policy(tmp_path / "last.ckpt")
    relaxed_module = DiffusionPolicyModule(model="relaxed", relax_banks=3, **MODEL)
    dm = datamodule(dataset)
    dm.setup()
    relaxed = relaxed_module.build(dm.shape_meta, list(dm.symmetry_center))
    relaxed.fit_normalizer(dm.normalizer_data())
    report = init_policy_from(relaxed, tmp_path / "last.ckpt")
    assert report == []
    relaxed.eval()
    obs, noise = obs_batch((None, dm.normalizer_data())), torch.randn(3, 8, 2)
    # same function; compared relatively: an untrained model amplifies eps at t = T-1 (sqrt(alpha_bar) ~ 0.006)
    assert torch.allclose(relaxed.predict_action(obs, noise=noise), equi.predict_action(obs, noise=noise), rtol=1e-4,
                          atol=1e-4)
    # a plain checkpoint into a relaxed model: every mismatch is reported key by key
    L.seed_everything(0)
    trainer(tmp_path / "p", 1).fit(DiffusionPolicyModule(model="plain", **MODEL), datamodule=datamodule(dataset))
    lines = init_policy_from(relaxed, tmp_path / "p" / "last.ckpt")
    assert any(l.startswith("unexpected in checkpoint (ignored): encoder.mlp") for l in lines)
    assert any(l.startswith("missing in checkpoint (kept fresh): denoiser.lift.banks.0.weights") for l in lines)


def test_rotation_augmentation_is_consistent(push_data):
    policy = make_policy(push_data, "plain", augment="so2")
    obs = obs_batch(push_data, 4)
    batch = {"obs": obs, "action": torch.randn(4, 8, 2)}
    phi = torch.tensor([0.3, 1.0, -2.0, math.pi])
    rotated = policy.rotate_batch(batch, phi)
    for i in range(4):
        assert torch.allclose(rotated["action"][i], rotate_field(batch["action"][i], "pos2", float(phi[i]), CENTER), atol=1e-5)
    back = policy.rotate_batch(rotated, -phi)
    assert torch.allclose(back["obs"]["puck_pos"], obs["puck_pos"], atol=1e-5)
    assert torch.isfinite(policy.compute_loss(batch, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("override, message", [
    (["--model.model", "transformer"], "unknown model 'transformer'"),
    (["--model.group_order", "0"], "group_order must be an integer >= 1"),
    (["--data.shape_meta", '{"obs": {"pusher_pos": {"shape": [3], "rep": "pos3"}}, "action": {"shape": [2], "rep": "pos2"}}'],
     "'pusher_pos' is stored with per-step shape (2,)"),
])
def test_bad_config_values_fail_with_one_line(dataset, tmp_path, override, message):
    proc = run_script("train.py", "--config", "configs/push.yaml", "--data.dataset_path", dataset,
                      "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false", *override)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_step_progress_prints_a_line_every_n_steps(dataset, tmp_path, capsys):
    """make demo trains without a live bar: StepProgress prints step/total, loss and time left to stderr."""
    from equidiff_relaxed.train.progress import StepProgress

    L.seed_everything(0)
    t = L.Trainer(max_steps=6, max_epochs=-1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                  enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
                  limit_val_batches=0, callbacks=[StepProgress(every_n_steps=2)])
    t.fit(DiffusionPolicyModule(model="plain", **MODEL), datamodule=datamodule(dataset))
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("train step")]
    assert [l.split()[2] for l in lines] == ["2/6", "4/6", "6/6"]
    assert "loss" in lines[-1] and "left" in lines[-1]
    with pytest.raises(ValueError, match="every_n_steps"):
        StepProgress(0)


def relax_weight_movement(module: DiffusionPolicyModule, before: dict[str, torch.Tensor]) -> tuple[float, float]:
    """(max |change| of the relaxation weights, max |change| of every other parameter) since ``before``."""
    relax, rest = 0.0, 0.0
    for name, p in module.named_parameters():
        change = float((p.detach() - before[name]).abs().max())
        if name.endswith("relax_weights"):
            relax = max(relax, change)
        else:
            rest = max(rest, change)
    return relax, rest


@pytest.mark.parametrize("relax_lr", [0.0, 0.1])
def test_relax_lr_sets_the_learning_rate_of_the_relaxation_weights_only(dataset, tmp_path, relax_lr):
    L.seed_everything(0)
    dm = datamodule(dataset)
    module = DiffusionPolicyModule(model="relaxed", relax_alpha=0.0, relax_lr=relax_lr, **MODEL)
    module.build(*_shape_and_center(dm))
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    trainer(tmp_path, 1).fit(module, datamodule=dm)
    relax, rest = relax_weight_movement(module, before)
    groups = module.trainer.optimizers[0].param_groups
    assert len(groups) == 2 and rest > 0
    if relax_lr == 0.0:
        assert relax == 0.0
    else:  # 33x the network's lr: w moves by more than the network's lr allows in these few steps
        steps = module.trainer.global_step
        assert relax > 3e-3 * steps, (relax, steps)
    # without relax_lr: one group at lr, as before
    assert len(DiffusionPolicyModule(model="relaxed", **MODEL).parameter_groups()) == 1


def _shape_and_center(dm: DemoDataModule):
    dm.setup("fit")
    return dm.shape_meta, list(dm.symmetry_center)


TINY_RECIPE = ["--model.denoiser_width", "16", "--model.denoiser_depth", "1", "--model.encoder_fields", "2",
               "--model.lift_fields", "2", "--model.encoder_hidden", "16", "--trainer.max_steps", "3",
               "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--data.n_demos", "4"]


def test_one_out_folder_holds_the_whole_run_and_the_default_names_recipe_and_family(dataset, tmp_path, repo):
    proc = run_script("train.py", "--config", "configs/push.yaml", "--data.dataset_path", dataset, "--out",
                      str(tmp_path / "mine"), *TINY_RECIPE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "mine"
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "checkpoints" / "policy" / "config.json").is_file()
    assert (run / "logs" / "version_0" / "hparams.yaml").is_file() and (run / "logs" / "version_0" / "config.yaml").is_file()
    assert (run / "checkpoints" / "loss_curves.png").is_file()
    # --trainer.default_root_dir is the same option; without either, runs/<recipe>-<family> under the working dir
    proc = run_script("train.py", "--config", str(repo / "configs/push.yaml"), "--data.dataset_path", dataset,
                      "--model.model", "equi", *TINY_RECIPE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "runs" / "push-equi" / "checkpoints" / "last.ckpt").is_file()
    proc = run_script("train.py", "--config", "push", "--data.dataset_path", dataset, "--trainer.default_root_dir",
                      str(tmp_path / "root"), "--trainer.logger", "false", *TINY_RECIPE)  # a recipe by name
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "root" / "checkpoints" / "last.ckpt").is_file() and not (tmp_path / "root" / "logs").exists()


def test_unknown_options_and_bad_values_are_one_line(dataset, tmp_path):
    for extra, message in ((["--model.relax_alphaa", "3"], "unknown option --model.relax_alphaa (did you mean --model.relax_alpha?)"),
                           (["--model.relax_alpha", "abc"], "--model.relax_alpha: expected float, got 'abc'")):
        proc = run_script("train.py", "--config", "configs/push.yaml", "--data.dataset_path", dataset, "--out",
                          str(tmp_path / "run"), *extra)
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        assert proc.returncode == 2 and lines == [f"error: equidiff-train: {message}"], proc.stderr[-2000:]
    # an option of another family, and a recipe's families section that names a family or option wrongly
    bad = tmp_path / "bad.yaml"
    for extra, yaml_text, message in (
            (["--model.model", "plain", "--model.relax_alpha", "1e-3"], None,
             "bad model config: model 'plain' does not take relax_alpha (an option of relaxed, subgroup, "
             "dihedral_relaxed); its own options: none"),
            ([], "families:\n  relaxd: {relax_alpha: 0.1}\n", "families.relaxd: unknown model 'relaxd'"),
            ([], "families:\n  equi: {relax_alpha: 0.1}\n", "families.equi: model 'equi' does not take relax_alpha")):
        if yaml_text is not None:
            bad.write_text(yaml_text)
            extra = ["--config", str(bad)]
        proc = run_script("train.py", "--config", "configs/push.yaml", "--data.dataset_path", dataset, "--out",
                          str(tmp_path / "run"), *extra)
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}"), proc.stderr
    assert not (tmp_path / "run").exists()
