import math
from types import SimpleNamespace

import numpy as np
import pytest

from equidiff_relaxed.train.datamodule import DemoDataModule
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.demos.generate import GenerateConfig, generate
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.symmetry import region_of


def arrays(path):
    buf = ReplayBuffer.open(path)
    out = {k: buf.data[k][:] for k in buf.keys}
    out.update({f"meta/{k}": buf.meta[k][:] for k in buf.meta.array_keys()})
    return out


def test_output_opens_with_the_data_layer_and_carries_theta(tmp_path):
    out = tmp_path / "pp.zarr"
    summary = generate(GenerateConfig("push-pillar", episodes=6, seed=3), out, progress=False)
    buf = ReplayBuffer.open(out)
    assert summary["episodes"] == buf.n_episodes == 6
    theta = buf.episode_meta("theta")
    assert theta.shape == (6,) and np.all((theta >= 0) & (theta < 2 * math.pi))
    assert buf.shape_meta.action.rep == "pos2" and buf.shape_meta.obs["puck_pos"].rep == "pos2"
    assert buf.attrs["env"]["name"] == "push-pillar" and buf.attrs["symmetry"] == {
        "center": [0.0, 0.0], "group": "SO(2)", "reflection_axis": 5 * math.pi / 8}  # the ray through the pillar
    assert set(buf.keys) == {"pusher_pos", "puck_pos", "goal_pos", "action", "states", "rewards", "dones"}
    for e in range(buf.n_episodes):  # only successful episodes are stored: reward and done on the last step only
        ep = buf.get_episode(e)
        assert ep["dones"][-1] == 1 and ep["rewards"][-1] == 1 and not ep["dones"][:-1].any()
    dm = DemoDataModule(str(out), horizon=8, n_obs_steps=2, n_action_steps=4, val_ratio=0.2)
    dm.setup()
    assert next(iter(dm.train_dataloader()))["obs"]["goal_pos"].shape[1:] == (2, 2)


def test_dart_defaults_record_recovery(tmp_path):
    """Push data are generated with DART by default: clean labels, perturbed execution, recovery steps counted."""
    cfg = GenerateConfig("push", episodes=6, seed=2)
    assert cfg.expert_noise == 0.0 and cfg.perturb().active
    summary = generate(cfg, tmp_path / "d.zarr", progress=False)
    buf = ReplayBuffer.open(tmp_path / "d.zarr")
    rec = buf.episode_meta("recovery_steps")
    assert rec.shape == (6,) and rec.sum() > 0
    assert math.isclose(summary["recovery_share"], rec.sum() / buf.n_steps)
    assert buf.attrs["source"]["perturb"]["noise_std"] == 0.01
    off = generate(GenerateConfig("push", episodes=6, seed=2, options={"dart_noise": 0.0, "burst_prob": 0.0}), tmp_path / "o.zarr",
                   progress=False)
    assert off["recovery_share"] < summary["recovery_share"]


def test_region_restriction_and_images(tmp_path):
    out = tmp_path / "r.zarr.zip"
    generate(GenerateConfig("push", episodes=3, seed=1, n_regions=8, region=5, image_size=16), out, progress=False)
    buf = ReplayBuffer.open(out)
    assert np.all(region_of(buf.episode_meta("theta"), 8) == 5)
    assert buf.data["image"].dtype == np.uint8 and buf.data["image"].shape[1:] == (16, 16, 3)
    assert buf.shape_meta.obs["image"].shape == (3, 16, 16)


def test_stratified_regions_give_every_prefix_equal_shares(tmp_path):
    out = tmp_path / "s.zarr"
    generate(GenerateConfig("push", episodes=6, seed=4, n_regions=4, stratify=True), out, progress=False)
    assert region_of(ReplayBuffer.open(out).episode_meta("theta"), 4).tolist() == [0, 1, 2, 3, 0, 1]
    assert ReplayBuffer.open(out).attrs["source"]["stratify"] is True


def test_failed_attempts_are_retried_in_the_same_sector(monkeypatch):
    """Stratified retries stay in episode i's sector (so a sector where the expert often fails still gets its
    demos); when every attempt fails the error names the sector and the option to raise."""
    from equidiff_relaxed.demos import generate as gen

    regions: list = []

    def failing_expert(env, expert, seed_words, n_regions=None, region=None, perturb=None):
        regions.append((region, seed_words[2]))
        return SimpleNamespace(success=False)

    monkeypatch.setattr(gen, "run_expert_episode", failing_expert)
    cfg = GenerateConfig("push", episodes=8, n_regions=4, stratify=True, max_attempts=3)
    with pytest.raises(UserError, match=r"failed 3 times on episode 6 of push \(sector 2 of 4\); raise --max_attempts"):
        gen.generate_episode(cfg, 6)
    assert regions == [(2, 0), (2, 1), (2, 2)]


def test_same_seed_same_data_whatever_the_workers(tmp_path):
    cfg = GenerateConfig("push-drift", episodes=5, seed=11)
    generate(cfg, tmp_path / "a.zarr", workers=1, progress=False)
    generate(cfg, tmp_path / "b.zarr", workers=2, progress=False)
    generate(GenerateConfig("push-drift", episodes=5, seed=12), tmp_path / "c.zarr", progress=False)
    a, b, c = (arrays(tmp_path / n) for n in ("a.zarr", "b.zarr", "c.zarr"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["meta/episode_theta"], c["meta/episode_theta"])


@pytest.mark.parametrize("cfg, message", [
    (GenerateConfig("pushh", episodes=1), "unknown env 'pushh'"),
    (GenerateConfig("push", episodes=0), "--episodes must be >= 1"),
    (GenerateConfig("push", episodes=1, region=2), "--region needs --theta_regions"),
    (GenerateConfig("push", episodes=1, n_regions=4, region=4), r"--region must be in \[0, 4\)"),
    (GenerateConfig("push", episodes=1, stratify=True), "--stratify_regions needs --theta_regions K and no --region"),
    (GenerateConfig("push", episodes=1, n_regions=4, region=1, stratify=True), "--stratify_regions needs"),
    (GenerateConfig("push", episodes=1, max_attempts=0), "--max_attempts must be >= 1"),
    (GenerateConfig("push", episodes=1, image_size=84), "multiple of 8"),
    (GenerateConfig("push", episodes=1, noise_std=-0.1), "--noise must be a finite number >= 0"),
    (GenerateConfig("push", episodes=1, options={"dart_noise": -0.01}), "--dart_noise must be a finite number >= 0"),
    (GenerateConfig("push", episodes=1, options={"burst_prob": 2.0}), r"--burst_prob must be in \[0, 1\]"),
    (GenerateConfig("push", episodes=1, options={"grasp_symmetry": 360}),
     r"--grasp_symmetry is not an option of push \(its options: --dart_noise"),
    (GenerateConfig("lift", episodes=1, options={"grasp_symmetry": 0}), r"--grasp_symmetry must be in \(0, 360\]"),
    (GenerateConfig("lift", episodes=1, image_size=82), "multiple of 4 for lift"),
    (GenerateConfig("lift", episodes=1, options={"jitter": 0.5}), r"--jitter must be in \[0, 0.1\] m"),
    (GenerateConfig("lift", episodes=1, options={"eye_in_hand": True}), "--eye_in_hand needs --image"),
])
def test_bad_configs(tmp_path, cfg, message):
    with pytest.raises(UserError, match=message):
        generate(cfg, tmp_path / "x.zarr", progress=False)
    assert not list(tmp_path.iterdir())


def test_grasp_symmetry_reaches_the_robosuite_expert():
    pytest.importorskip("robosuite")
    from equidiff_relaxed.demos.generate import _env_and_expert

    for symmetry in (None, 360.0):
        env, expert = _env_and_expert(GenerateConfig("lift", episodes=1, options={"grasp_symmetry": symmetry}))
        assert expert.cfg.symmetry_deg == (symmetry or 90.0)


def test_lift_with_images_at_84_px_records_both_cameras_and_the_layout_options(tmp_path):
    pytest.importorskip("robosuite")
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer

    out = tmp_path / "lift.zarr"
    generate(GenerateConfig("lift", episodes=1, image_size=84, max_steps=60,
                            options={"eye_in_hand": True, "radius": 0.0, "jitter": 0.03, "action_mode": "delta"}),
             out, progress=False)
    buf = ReplayBuffer.open(out)
    reps = {k: v["rep"] for k, v in buf.attrs["shape_meta"]["obs"].items()}
    assert reps["agentview_image"] == "camera" and reps["robot0_eye_in_hand_image"] == "camera_inhand"
    assert buf.get_episode(0)["robot0_eye_in_hand_image"].shape[1:] == (84, 84, 3)
    layout = buf.attrs["env"]["kwargs"]["layout"]
    assert layout["radius"] == 0.0 and layout["jitter"] == 0.03
