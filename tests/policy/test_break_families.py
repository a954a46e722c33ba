"""Families that can break symmetry where the input calls for it, and the canonicalization baseline: exact where
their construction promises it, their penalties, and one-line errors for bad settings."""
import math

import pytest
import torch

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.policy.diagnostics import angles_to_test
from equidiff_relaxed.nn.gated import GATE_INIT, output_layer
from equidiff_relaxed.policy.families import family_names, get_family
from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule
from equidiff_relaxed.symmetry.actions import transform_field
from tests.policy.conftest import CENTER, make_policy, obs_batch

MLP = dict(denoiser="mlp", denoiser_width=32, denoiser_depth=1)


def rotated(obs, phi):
    return {k: transform_field(v, "pos2", phi, False, CENTER) for k, v in obs.items()}


def actions(policy, obs, noise):
    return policy.eval().predict_action(obs, noise=noise)


@pytest.mark.parametrize("relative", [None, "pusher_pos"])
def test_canonical_is_exactly_equivariant_under_any_rotation(push_data, relative):
    policy = make_policy(push_data, "canonical", relative_to=relative, **MLP)
    assert get_family("canonical").exact and policy.encoder.frame.key == "puck_pos"  # the first position not relative_to
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))
    base = actions(policy, obs, noise)
    for phi in (0.3, 1.0, 2.5, -2.0):  # not only the C8 angles: the canonical frame absorbs any rotation
        turned = actions(policy, rotated(obs, phi), transform_field(noise, "vec2", phi))  # world-frame noise turns too
        assert torch.allclose(turned, transform_field(base, "pos2", phi, False, CENTER), atol=2e-5)


def test_canonical_settings_that_cannot_work_are_refused(push_data):
    with pytest.raises(ValueError, match="canonical_from must name a pos2/pos3 observation"):
        make_policy(push_data, "canonical", canonical_from="nope", **MLP)
    with pytest.raises(ValueError, match="normalizer_mode symmetric"):
        make_policy(push_data, "canonical", normalizer_mode="limits", **MLP)
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy

    with pytest.raises(ValueError, match="top-down images"):
        DiffusionPolicy(make_push_buffer(2, seed=0, image_size=8).shape_meta, "canonical", **MLP)


def test_gated_is_exact_at_init_and_breaks_only_through_its_gate(push_data):
    policy = make_policy(push_data, "gated", **MLP)
    family = get_family("gated")
    assert family.starts_exact and not family.exact and len(angles_to_test(policy)) == policy.group_order - 1
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))

    def error(p) -> float:
        phi = 2 * math.pi / p.group_order
        a = actions(p, obs, noise)
        b = actions(p, rotated(obs, phi), transform_field(noise, "vec2", phi))
        return float((transform_field(a, "pos2", phi, False, CENTER) - b).abs().max())

    assert error(policy) < 1e-5  # the free denoiser's output layer starts at 0 ...
    out = output_layer(policy.denoiser.free)
    assert float(policy.denoiser.free_scale) == 1.0 and not out.weight.any()  # ... not its scale (gradient flows)
    with torch.no_grad():
        out.weight.normal_(0, 0.1)
    assert error(policy) > 1e-3  # now the gated free path breaks it ...
    with torch.no_grad():
        policy.encoder.gate.bias.fill_(-60.0)  # ... and a closed gate switches it off again
    assert error(policy) < 1e-5


def test_gated_over_the_canonical_frame_is_exact_under_any_rotation_until_its_free_path_speaks(push_data):
    policy = make_policy(push_data, "gated", gate_exact="canonical", **MLP)
    assert policy.encoder.equi.frame.key == "puck_pos"  # the exact path is the canonical family's
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))

    def error(p) -> float:
        base = actions(p, obs, noise)
        return max(float((transform_field(base, "pos2", phi, False, CENTER)
                          - actions(p, rotated(obs, phi), transform_field(noise, "vec2", phi))).abs().max())
                   for phi in (0.3, 2.5))  # not C8 angles: the canonical path is exact under every rotation

    assert error(policy) < 2e-5
    with torch.no_grad():
        output_layer(policy.denoiser.free).weight.normal_(0, 0.1)
    assert error(policy) > 1e-3
    with pytest.raises(UserError, match="unknown gate_exact 'escnn' \\(known: equivariant, canonical, oriented\\)"):
        DiffusionPolicyModule(model="gated", gate_exact="escnn")
    with pytest.raises(ValueError, match="gated \\(gate_exact canonical\\) family needs normalizer_mode symmetric"):
        make_policy(push_data, "gated", gate_exact="canonical", normalizer_mode="limits", **MLP)


def test_gated_over_the_oriented_path_is_exact_at_init_and_carries_both_penalties(push_data):
    policy = make_policy(push_data, "gated", gate_exact="oriented", orient_alpha=0.5, gate_alpha=0.25, **MLP)
    from equidiff_relaxed.nn.oriented import OrientedEncoder

    assert isinstance(policy.encoder.equi, OrientedEncoder)  # the exact path is the oriented family's
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))
    base = actions(policy, obs, noise)
    for phi in (0.3, 2.5):  # its correction and the free path both start at 0: exact under every rotation
        assert torch.allclose(actions(policy, rotated(obs, phi), transform_field(noise, "vec2", phi)),
                              transform_field(base, "pos2", phi, False, CENTER), atol=2e-5)
    with torch.no_grad():
        policy.encoder.equi.correction[-1].weight.normal_(0, 0.1)  # a correction that speaks ...
    policy.train()
    batch = {"obs": obs, "action": torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(1))}
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    delta = policy.encoder.equi._last_delta
    gate = policy.encoder._last_gate
    expected = 0.5 * delta.pow(2).sum(-1).mean() + 0.25 * gate.mean()  # ... is paid for beside the gate
    assert float(delta.abs().max()) > 0 and torch.allclose(policy.penalty(), expected)


@pytest.mark.parametrize("mix", ["add", "convex"])
def test_gated_contribution_penalty_pays_for_what_the_free_path_adds(push_data, mix):
    policy = make_policy(push_data, "gated", gate_penalty="contribution", gate_alpha=0.5, gate_mix=mix,
                         gate_warmup=0.5, **MLP).train()
    obs = obs_batch(push_data)
    batch = {"obs": obs, "action": torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(1))}
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    if mix == "add":  # the free path starts silent: nothing to pay, whatever the gate (0.5)
        assert float(policy.penalty()) == 0.0
    # (convex: g (eps_free - eps_exact) = -0.5 eps_exact at initialisation, a constant share, paid for like any other)
    with torch.no_grad():
        output_layer(policy.denoiser.free).weight.normal_(0, 0.3)
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    added = policy.denoiser._last_contribution
    assert float(added.abs().max()) > 0
    assert torch.allclose(policy.penalty(), 0.5 * added.pow(2).mean())  # on the contribution, not on the gate
    assert torch.allclose(policy.penalty(0.25), 0.25 * added.pow(2).mean())  # ramped over gate_warmup
    with torch.no_grad():
        policy.encoder.gate.bias.fill_(-60.0)  # a closed gate adds nothing and costs nothing
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    assert float(policy.penalty()) < 1e-12
    with pytest.raises(UserError, match="unknown gate_penalty 'size' \\(known: gate, contribution\\)"):
        DiffusionPolicyModule(model="gated", gate_penalty="size")


def test_convex_gating_hands_a_state_to_the_free_path_and_shields_the_exact_path_there(push_data):
    policy = make_policy(push_data, "gated", gate_mix="convex", gate_exact="canonical", **MLP)
    assert not hasattr(policy.denoiser, "free_scale")  # the gate alone weighs the two paths
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))
    base = actions(policy, obs, noise)
    phi = 1.0
    assert torch.allclose(actions(policy, rotated(obs, phi), transform_field(noise, "vec2", phi)),
                          transform_field(base, "pos2", phi, False, CENTER), atol=2e-5)  # exact at init
    batch = {"obs": obs, "action": torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(1))}

    def exact_path_gradient(gate_bias: float) -> float:
        policy.zero_grad()
        with torch.no_grad():
            policy.encoder.gate.bias.fill_(gate_bias)
        policy.compute_loss(batch, torch.Generator().manual_seed(0)).backward()
        return sum(float(p.grad.abs().sum()) for p in policy.denoiser.equi.parameters() if p.grad is not None)

    assert exact_path_gradient(0.0) > 0
    assert exact_path_gradient(30.0) < 1e-6 * exact_path_gradient(0.0)  # gate open: the exact path learns nothing
    with pytest.raises(UserError, match="unknown gate_mix 'sum' \\(known: add, convex\\)"):
        DiffusionPolicyModule(model="gated", gate_mix="sum")


@pytest.mark.parametrize("denoiser", ["mlp", "unet"])
def test_the_free_path_starts_silent_but_learns_from_the_first_step(push_data, denoiser):
    opts = MLP if denoiser == "mlp" else dict(denoiser="unet", down_dims=[8, 16])
    policy = make_policy(push_data, "gated", **opts)
    batch = {"obs": obs_batch(push_data), "action": torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(1))}
    noisy, t = torch.randn(3, 8, 2), torch.tensor([3, 50, 90])
    cond = policy.encoder(policy._normalize_obs(batch["obs"]))
    assert not policy.denoiser.free(noisy, t, cond[1]).any()  # silent at init
    policy.compute_loss(batch, torch.Generator().manual_seed(0)).backward()
    assert output_layer(policy.denoiser.free).weight.grad.abs().sum() > 0


def test_gate_penalty_is_on_the_batch_activations(push_data):
    policy = make_policy(push_data, "gated", gate_alpha=0.5, **MLP)
    assert float(policy.penalty()) == 0.0  # no activations seen yet
    batch = {"obs": obs_batch(push_data), "action": torch.zeros(3, 8, 2)}
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    expected = torch.tensor(0.5 * GATE_INIT)
    assert torch.allclose(policy.penalty(), expected)
    assert float(policy.penalty(0.0)) == 0.0  # ramped up over the first gate_warmup (0.25) of the run
    assert torch.allclose(policy.penalty(0.125), expected / 2) and torch.allclose(policy.penalty(0.6), expected)
    policy.penalty().backward()
    assert policy.encoder.gate.bias.grad is not None and float(policy.encoder.gate.bias.grad) > 0  # pulls it shut


def test_a_negative_gate_penalty_is_one_clear_error():
    with pytest.raises(UserError, match=r"bad model config: gate_alpha must be a number >= 0, got -0.1"):
        DiffusionPolicyModule(model="gated", gate_alpha=-0.1)
    with pytest.raises(UserError, match=r"bad model config: gate_warmup must be a number in \[0, 1\], got 2"):
        DiffusionPolicyModule(model="gated", gate_warmup=2)


def test_the_registry_lists_them_for_sweeps_speed_and_diagnostics():
    assert {"gated", "canonical", "cause_equi", "local"} <= set(family_names())


def _with_wall(meta, value):
    from equidiff_relaxed.data.shape_meta import ShapeMeta

    d = meta.to_dict()
    d["breaking"] = {"wall": {"shape": [4], "rep": "pos2+vec2", "value": [float(v) for v in value]}}
    return ShapeMeta.from_dict(d)


def test_cause_equi_is_equivariant_in_observation_and_cause_jointly_not_in_the_observation_alone(push_data, tmp_path):
    import numpy as np

    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
    from equidiff_relaxed.policy.pretrained import load_pretrained, save_pretrained
    from tests.policy.conftest import TINY

    buf, data = push_data
    wall = np.array([CENTER[0] + 0.1, CENTER[1] + 0.15, 0.05, -0.02])
    phi = 2 * math.pi / 8
    turned = np.concatenate([transform_field(wall[:2], "pos2", phi, False, CENTER), transform_field(wall[2:], "vec2", phi)])
    options = {**TINY, **MLP}
    torch.manual_seed(0)
    here = DiffusionPolicy(_with_wall(buf.shape_meta, wall), "cause_equi", **options)
    here.fit_normalizer(data)
    there = DiffusionPolicy(_with_wall(buf.shape_meta, turned), "cause_equi", **options)
    there.load_state_dict(here.state_dict())
    assert here.fixed_keys == ("wall",) and "wall" in here.normalizer.fields
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))
    expected = transform_field(actions(here, obs, noise), "pos2", phi, False, CENTER)
    moved = (rotated(obs, phi), transform_field(noise, "vec2", phi))
    assert torch.allclose(actions(there, *moved), expected, atol=1e-5)  # the world and its cause turned together
    assert not torch.allclose(actions(here, *moved), expected, atol=1e-4)  # the cause stays: the policy may differ
    folder = save_pretrained(here, tmp_path / "policy")  # the cause's value travels in shape_meta
    assert torch.equal(actions(load_pretrained(folder), obs, noise), actions(here, obs, noise))


def test_cause_equi_needs_a_declared_cause(push_data):
    with pytest.raises(ValueError, match=r"no breaking input declared in the dataset's shape_meta \(declared: none\)"):
        make_policy(push_data, "cause_equi", **MLP)
    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy

    meta = _with_wall(push_data[0].shape_meta, [0.1, 0.1, 0.05, 0.0])
    with pytest.raises(ValueError, match=r"breaking input\(s\) 'base' not declared .*\(declared: wall\)"):
        DiffusionPolicy(meta, "cause_equi", breaking_inputs=["base"], **MLP)


def test_train_cli_refuses_a_missing_cause_in_one_line_and_writes_nothing(tmp_path):
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from tests.conftest import run_script

    make_push_buffer(3, seed=2).save(tmp_path / "push.zarr")
    proc = run_script("train.py", "--config", "configs/push.yaml", "--model.model", "cause_equi",
                      "--data.dataset_path", str(tmp_path / "push.zarr"), "--data.n_demos", "2", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert lines == ["error: bad model config: no breaking input declared in the dataset's shape_meta "
                     "(declared: none)"], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()  # no logs, no config.yaml


def test_evaluation_reports_the_mean_gate_per_region_and_canonical_is_exact(push_data):
    from equidiff_relaxed.policy.diagnostics import equivariance_error, mean_gate

    gated = make_policy(push_data, "gated", **MLP)
    samples = [{k: v[i] for k, v in obs_batch(push_data).items()} for i in range(3)]
    assert mean_gate(gated, samples) == pytest.approx(GATE_INIT, rel=1e-5)
    assert math.isnan(mean_gate(make_policy(push_data, "equi", **MLP), samples))
    canonical = make_policy(push_data, "canonical", **MLP)
    assert equivariance_error(canonical, samples)["rel"] < 1e-4


@pytest.mark.parametrize("relative", [None, "pusher_pos"])
def test_local_is_the_exact_group_average_at_init_and_breaks_only_as_its_neighbourhood_narrows(push_data, relative):
    policy = make_policy(push_data, "local", relative_to=relative, **MLP)
    family = get_family("local")
    assert family.group_axis and family.starts_exact and not family.exact
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))

    def error(p, phi) -> float:
        a = actions(p, obs, noise)
        b = actions(p, rotated(obs, phi), transform_field(noise, "vec2", phi))
        return float((transform_field(a, "pos2", phi, False, CENTER) - b).abs().max())

    c8 = [2 * math.pi * k / 8 for k in range(1, 8)]
    assert max(error(policy, phi) for phi in c8) < 1e-5  # kappa = 0: uniform weights over all of C8
    assert error(policy, 0.3) > 1e-4  # ... a C8 average, not an SO(2) one
    with torch.no_grad():
        policy.encoder.kappa_head.bias.fill_(8.0)  # a narrow average: mostly the identity, i.e. the plain policy
    assert error(policy, 2 * math.pi / 8) > 1e-3
    narrow = make_policy(push_data, "local", local_elements=3, **MLP)  # K < N: not a group average even at init
    assert len(narrow.encoder.angles) == 3 and error(narrow, 2 * math.pi / 8) > 1e-4


def test_local_weights_start_uniform_and_the_penalty_is_on_kappa_activations(push_data):
    policy = make_policy(push_data, "local", local_alpha=0.5, **MLP)
    assert float(policy.penalty()) == 0.0  # no activations seen yet
    batch = {"obs": obs_batch(push_data), "action": torch.zeros(3, 8, 2)}
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    nobs = policy._normalize_obs(batch["obs"])
    assert torch.allclose(policy.encoder.gate_value(nobs), torch.zeros(3), atol=1e-6)  # uniform: the group average
    assert float(policy.penalty().detach()) == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():
        policy.encoder.kappa_head.bias.fill_(2.0)
    policy.compute_loss(batch, torch.Generator().manual_seed(0))
    kappa = torch.nn.functional.softplus(torch.tensor(2.0)) - math.log(2)
    assert torch.allclose(policy.penalty(), 0.5 * kappa) and bool((policy.encoder.gate_value(nobs) > 0).all())
    policy.penalty().backward()
    assert float(policy.encoder.kappa_head.bias.grad) > 0  # pulls the neighbourhood back to the whole group
    fixed = make_policy(push_data, "local", local_conditioned=False, **MLP)
    assert not fixed.encoder.kappa_head.weight.requires_grad  # one global kappa


def test_a_neighbourhood_wider_than_the_group_and_a_negative_local_penalty_are_one_clear_error():
    with pytest.raises(UserError, match=r"bad model config: local_elements 9 is wider than the group C_8 \(8 elements\)"):
        DiffusionPolicyModule(model="local", local_elements=9)
    with pytest.raises(UserError, match=r"bad model config: local_alpha must be a number >= 0, got -1"):
        DiffusionPolicyModule(model="local", local_alpha=-1)


def test_oriented_is_canonical_at_init_and_breaks_only_through_its_orientation_correction(push_data):
    policy = make_policy(push_data, "oriented", relative_to="pusher_pos", orient_alpha=0.5, **MLP)
    assert get_family("oriented").starts_exact and not get_family("oriented").exact
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))

    def error(p, phi) -> float:
        a = actions(p, obs, noise)
        b = actions(p, rotated(obs, phi), transform_field(noise, "vec2", phi))
        return float((transform_field(a, "pos2", phi, False, CENTER) - b).abs().max())

    assert max(error(policy, phi) for phi in (0.3, 1.0, 2.5)) < 2e-5  # the canonical policy: any rotation
    assert float(policy.penalty()) == 0.0  # no activations seen yet
    batch = {"obs": obs, "action": torch.zeros(3, 8, 2)}
    policy.compute_loss(batch, torch.Generator().manual_seed(0)).backward()
    last = policy.encoder.correction[-1]
    assert last.weight.grad.abs().sum() > 0  # the correction learns from the first step ...
    assert float(policy.penalty().detach()) == 0.0  # ... and costs nothing until it is used
    with torch.no_grad():
        last.bias.normal_(0, 0.5)
    assert error(policy, 2 * math.pi / 8) < 2e-5  # a constant correction is still a function of the canonical frame
    with torch.no_grad():
        last.weight.normal_(0, 0.5)
    assert error(policy, 2 * math.pi / 8) > 1e-3  # one that depends on the orientation breaks the symmetry
    policy.train().compute_loss(batch, torch.Generator().manual_seed(0))
    nobs = policy._normalize_obs(obs)
    cond, _ = policy.encoder(nobs)
    delta = cond - policy.encoder.canonical(nobs)[0]
    assert float(policy.penalty().detach()) == pytest.approx(0.5 * float(delta.pow(2).sum(-1).mean()), rel=1e-5)
    gate = policy.encoder.gate_value(nobs)
    assert gate.shape == (3,) and bool(((gate > 0) & (gate < 1)).all())


def test_oriented_prior_weighs_more_with_fewer_training_episodes(push_data):
    buf, data = push_data
    ends = buf.episode_ends[:]
    penalties = {}
    for prior_demos in (0, 100):
        policy = make_policy(push_data, "oriented", relative_to="pusher_pos", orient_alpha=0.5,
                             orient_prior_demos=prior_demos, **MLP)
        policy.fit_normalizer(data, ends)  # len(ends) training episodes
        with torch.no_grad():
            policy.encoder.correction[-1].weight.normal_(0, 0.5)
        policy.train().compute_loss({"obs": obs_batch(push_data), "action": torch.zeros(3, 8, 2)},
                                    torch.Generator().manual_seed(0))
        penalties[prior_demos] = float(policy.penalty().detach())
    assert penalties[0] > 0
    assert penalties[100] == pytest.approx(penalties[0] * 100 / len(ends), rel=1e-5)  # alpha * 100 / n


def test_oriented_options_are_its_own_and_checked():
    with pytest.raises(UserError, match=r"bad model config: orient_alpha must be a number >= 0, got -1"):
        DiffusionPolicyModule(model="oriented", orient_alpha=-1)
    with pytest.raises(UserError, match=r"bad model config: orient_prior_demos must be an integer >= 0, got -5"):
        DiffusionPolicyModule(model="oriented", orient_prior_demos=-5)
    with pytest.raises(UserError, match=r"model 'equi' does not take orient_alpha \(an option of gated, oriented\)"):
        DiffusionPolicyModule(model="equi", orient_alpha=0.1)


@pytest.mark.parametrize("sees", ["angle", "state"])
def test_oriented_with_the_orientation_as_input_starts_exact_and_breaks_through_its_input_weights(push_data, sees):
    policy = make_policy(push_data, "oriented", relative_to="pusher_pos", orient_mode="input", orient_harmonics=2,
                         orient_alpha=0.5, orient_sees=sees, **MLP)
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))
    phi = 2 * math.pi / 8

    def error(p) -> float:
        a = actions(p, obs, noise)
        b = actions(p, rotated(obs, phi), transform_field(noise, "vec2", phi))
        return float((transform_field(a, "pos2", phi, False, CENTER) - b).abs().max())

    weights = policy.encoder.correction[-1].weight
    inputs = 4 + (2 * 2 * len(policy.meta.low_dim_keys) if sees == "state" else 0)  # 2 harmonics; To = 2 steps
    assert weights.shape == (policy.encoder.canonical.plain.mlp[0].out_features, inputs) and not weights.any()
    assert error(policy) < 2e-5
    batch = {"obs": obs, "action": torch.zeros(3, 8, 2)}
    policy.train().compute_loss(batch, torch.Generator().manual_seed(0)).backward()
    assert weights.grad.abs().sum() > 0  # learns from the first step
    with torch.no_grad():
        weights.normal_(0, 0.5)
    assert error(policy) > 1e-3
