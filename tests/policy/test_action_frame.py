"""Relative actions (displacements from the pusher at "now"), DDIM spacing and the encoder depth."""
import math

import numpy as np
import pytest
import torch

from equidiff_relaxed.policy.action_frame import RelativeActions
from equidiff_relaxed.symmetry import rotate_field
from tests.policy.conftest import CENTER, make_policy, obs_batch
from tests.policy.test_equivariance import TOL, rel


def test_relative_round_trip_and_network_rep(push_data):
    buf, _ = push_data
    rel_actions = RelativeActions(buf.shape_meta, "pusher_pos")
    assert rel_actions.network_meta.rep == "vec2"  # pos2 - pos2: a displacement
    g = torch.Generator().manual_seed(0)
    chunk, ref = torch.randn(3, 8, 2, generator=g), torch.randn(3, 2, generator=g)
    r = rel_actions.to_relative(chunk, ref)
    assert torch.allclose(r, chunk - ref[:, None])
    assert torch.allclose(rel_actions.to_absolute(r, ref), chunk, atol=1e-6)


def test_relative_fit_samples_cover_every_window_displacement():
    from equidiff_relaxed.data.shape_meta import ShapeMeta

    meta = ShapeMeta.from_dict({"obs": {"p": {"shape": [2], "rep": "pos2"}}, "action": {"shape": [2], "rep": "pos2"}})
    ra = RelativeActions(meta, "p")
    action = np.arange(10, dtype=np.float32)[:, None].repeat(2, 1)  # episodes [0..4], [5..9]
    ref = np.zeros((10, 2), dtype=np.float32)
    ref[:, 0] = np.arange(10)
    s = ra.fit_samples(action, ref, np.array([5, 10]), horizon=4, n_obs_steps=2)
    assert s.shape == (10 * 4, 2)
    # x: target[clip(t+k)] - t for k in -1..2, clipped inside each episode (never across episodes)
    assert s[:, 0].min() == -1 and s[:, 0].max() == 2
    assert s[:4, 0].tolist() == [0, 0, 1, 2]  # t = 0: the first step repeats
    assert s[16:20, 0].tolist() == [-1, 0, 0, 0]  # t = 4, the last step of episode 0: hold


@pytest.mark.parametrize("family", ["equi", "relaxed"])
def test_relative_action_policy_is_equivariant_and_returns_absolute_targets(push_data, family):
    policy = make_policy(push_data, family, relative_to="pusher_pos", encoder_layers=2).eval()
    assert policy.normalizer.fields["action"].scale.shape == (2,)
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2)
    act = policy.predict_action(obs, noise=noise)
    # absolute targets: the chunk's displacement is added back to the pusher position at "now"
    policy_abs = make_policy(push_data, family, encoder_layers=2).eval()
    assert rel(act, policy_abs.predict_action(obs, noise=noise)) > 1e-3
    for k in range(1, 8):
        phi = 2 * math.pi * k / 8
        robs = {key: rotate_field(v, "pos2", phi, CENTER) for key, v in obs.items()}
        ract = policy.predict_action(robs, noise=rotate_field(noise, "pos2", phi))
        assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) < TOL


def test_relative_training_loss_uses_displacements(push_data):
    """compute_loss trains on displacements from the pusher at "now": a target at the pusher is a zero vector."""
    policy = make_policy(push_data, "plain", relative_to="pusher_pos")
    obs = obs_batch(push_data)
    action = obs["pusher_pos"][:, 1:2] + 0.01 * torch.arange(8.0)[None, :, None]
    ref = policy.relative.reference(obs, policy.n_obs_steps)
    assert torch.allclose(policy.relative.to_relative(action, ref)[:, 0], torch.zeros(3, 2), atol=1e-6)
    loss = policy.compute_loss({"obs": obs, "action": action}, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)


@pytest.mark.parametrize("bad, match", [("goal", "not a low-dim observation key"), ("nope", "not a low-dim")])
def test_bad_relative_to_is_rejected(push_data, bad, match):
    with pytest.raises(ValueError, match=match):
        make_policy(push_data, "plain", relative_to=bad)


@pytest.mark.parametrize("spacing, first", [("trailing", 99), ("leading", 84)])
def test_ddim_spacing(push_data, spacing, first):
    """trailing: K-step sampling starts at the last training timestep (pure noise); leading starts at t = 84."""
    policy = make_policy(push_data, "plain", ddim_spacing=spacing, num_train_timesteps=100, ddim_steps=8)
    policy.infer_scheduler.set_timesteps(8)
    assert int(policy.infer_scheduler.timesteps[0]) == first


def test_default_spacing_is_trailing_and_unknown_is_rejected(push_data):
    policy = make_policy(push_data, "plain", ddim_steps=8)
    policy.infer_scheduler.set_timesteps(8)
    assert int(policy.infer_scheduler.timesteps[0]) == policy.train_scheduler.config.num_train_timesteps - 1
    with pytest.raises(ValueError, match="unknown ddim_spacing"):
        make_policy(push_data, "plain", ddim_spacing="uniform")


def test_encoder_layers_deepen_both_encoders(push_data):
    for family in ("plain", "equi"):
        shallow = make_policy(push_data, family)
        deep = make_policy(push_data, family, encoder_layers=3)
        n = lambda p: sum(x.numel() for x in p.encoder.parameters())  # noqa: E731
        assert n(deep) > n(shallow)
    with pytest.raises(ValueError, match="encoder_layers"):
        make_policy(push_data, "plain", encoder_layers=0)


def test_epsilon_with_trailing_is_refused_and_old_checkpoints_keep_their_sampler(push_data):
    """eps-prediction + trailing divides the first x0 estimate by sqrt(abar_99) = 5e-4: refused with a clear error.
    Checkpoints written before prediction_type / ddim_spacing existed load as epsilon + leading."""
    from equidiff_relaxed.policy.checkpoint import LEGACY_HPARAMS

    with pytest.raises(ValueError, match="v_prediction"):
        make_policy(push_data, "plain", prediction_type="epsilon", ddim_spacing="trailing")
    assert LEGACY_HPARAMS == {"prediction_type": "epsilon", "ddim_spacing": "leading"}
    policy = make_policy(push_data, "plain", **LEGACY_HPARAMS)
    assert policy.infer_scheduler.config.timestep_spacing == "leading"


def test_v_prediction_target(push_data):
    """The training target of v-prediction is sqrt(abar) eps - sqrt(1 - abar) x0 (checked at t = 0 and T-1)."""
    policy = make_policy(push_data, "plain")
    assert policy.train_scheduler.config.prediction_type == "v_prediction"
    x0, eps = torch.randn(2, 8, 2), torch.randn(2, 8, 2)
    t = torch.tensor([0, 99])
    v = policy.train_scheduler.get_velocity(x0, eps, t)
    ab = policy.train_scheduler.alphas_cumprod[t].view(2, 1, 1)
    assert torch.allclose(v, ab.sqrt() * eps - (1 - ab).sqrt() * x0, atol=1e-6)
