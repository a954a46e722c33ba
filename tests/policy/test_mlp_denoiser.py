"""The MLP denoiser (denoiser="mlp"): shapes, exact C_N equivariance of the group-folded version, relaxation,
training, export and configuration errors."""
import math

import numpy as np
import pytest
import torch

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.nn.export import export_policy
from equidiff_relaxed.nn.group_linear import GroupLinear, RelaxedLinear
from equidiff_relaxed.nn.mlp_denoiser import ConditionalMLP, EquivariantMLPDenoiser, PlainMLPDenoiser
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule
from equidiff_relaxed.symmetry import rotate_field
from tests.policy.conftest import CENTER, TINY, make_policy, obs_batch

MLP = dict(denoiser="mlp", denoiser_width=32, denoiser_depth=2)
TOL = 1e-4


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm() / b.norm().clamp_min(1e-12)).detach())


def rotate_obs(obs: dict[str, torch.Tensor], phi: float) -> dict[str, torch.Tensor]:
    return {k: rotate_field(v, "pos2", phi, CENTER) for k, v in obs.items()}


def test_conditional_mlp_shapes_and_small_start():
    net = ConditionalMLP(in_dim=12, out_dim=5, cond_dim=7, width=16, depth=2)
    y = net(torch.randn(4, 12), torch.tensor([0, 3, 50, 99]), torch.randn(4, 7))
    assert y.shape == (4, 5)
    assert 0 < y.abs().max().item() < 1.0  # small, not zero, at initialisation


@pytest.mark.parametrize("family", ["plain", "equi", "relaxed", "residual"])
def test_shapes_for_every_family(push_data, family):
    policy = make_policy(push_data, family, **MLP)
    expected = PlainMLPDenoiser if family == "plain" else EquivariantMLPDenoiser
    assert isinstance(policy.denoiser, expected)
    obs = obs_batch(push_data)
    cond = policy.encoder(policy._normalize_obs(obs))
    eps = policy.denoiser(torch.randn(3, 8, 2), torch.tensor([1, 40, 99]), cond)
    assert eps.shape == (3, 8, 2)
    assert policy.predict_action(obs).shape == (3, 4, 2)
    loss = policy.compute_loss({"obs": obs, "action": torch.randn(3, 8, 2)})
    assert loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="horizon 8"):
        policy.denoiser(torch.randn(3, 16, 2), torch.tensor([1, 40, 99]), cond)


@pytest.mark.parametrize("family", ["equi", "residual"])
def test_equivariant_mlp_policy_is_exactly_equivariant(push_data, family):
    policy = make_policy(push_data, family, **MLP).eval()
    obs = obs_batch(push_data)
    cond = policy.encoder(policy._normalize_obs(obs))
    x, t, noise = torch.randn(3, 8, 2), torch.tensor([3, 50, 99]), torch.randn(3, 8, 2)
    eps = policy.denoiser(x, t, cond)
    act = policy.predict_action(obs, noise=noise)
    assert eps.norm() > 1e-3
    for k in range(1, 8):
        phi = 2 * math.pi * k / 8
        robs = rotate_obs(obs, phi)
        rcond = policy.encoder(policy._normalize_obs(robs))
        assert rel(rcond, torch.roll(cond, k, dims=-1)) < TOL
        assert rel(policy.denoiser(rotate_field(x, "pos2", phi), t, rcond), rotate_field(eps, "pos2", phi)) < TOL
        ract = policy.predict_action(robs, noise=rotate_field(noise, "pos2", phi))
        assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) < TOL


def test_plain_mlp_policy_is_not_equivariant(push_data):
    """The check above can fail: the unconstrained MLP policy does not commute with rotations."""
    policy = make_policy(push_data, "plain", **MLP).eval()
    obs, noise, phi = obs_batch(push_data), torch.randn(3, 8, 2), math.pi / 2
    cond = policy.encoder(policy._normalize_obs(obs))
    x, t = torch.randn(3, 8, 2), torch.tensor([3, 50, 99])
    rcond = policy.encoder(policy._normalize_obs(rotate_obs(obs, phi)))
    eps = policy.denoiser(x, t, cond)
    assert rel(policy.denoiser(rotate_field(x, "pos2", phi), t, rcond), rotate_field(eps, "pos2", phi)) > 1e-2


def test_relaxed_mlp_exact_at_init_not_after_perturbation(push_data):
    policy = make_policy(push_data, "relaxed", relax_where="denoiser", **MLP).eval()
    assert {name for name, _ in policy.relaxed_layers()} == {"denoiser.lift", "denoiser.project"}
    obs, x, t = obs_batch(push_data), torch.randn(3, 8, 2), torch.tensor([3, 50, 99])
    cond = policy.encoder(policy._normalize_obs(obs))

    def error(k: int) -> float:
        phi = 2 * math.pi * k / 8
        rcond = policy.encoder(policy._normalize_obs(rotate_obs(obs, phi)))
        eps = policy.denoiser(x, t, cond)
        return rel(policy.denoiser(rotate_field(x, "pos2", phi), t, rcond), rotate_field(eps, "pos2", phi))

    assert policy.penalty().item() == 0.0
    assert max(error(k) for k in range(1, 8)) < TOL
    with torch.no_grad():
        for _, layer in policy.relaxed_layers():
            g = torch.Generator().manual_seed(0)
            layer.relax_weights.add_(0.3 * torch.randn(layer.relax_weights.shape, generator=g))
    assert policy.penalty().item() > 0
    assert min(error(k) for k in range(1, 8)) > 1e-2


def _tiny_batch(push_data, n: int = 8) -> dict:
    _, data = push_data
    starts = np.linspace(0, len(data["action"]) - 8, n).astype(int)
    obs = {k: torch.tensor(np.stack([data[k][s : s + 2] for s in starts]), dtype=torch.float32)
           for k in ("pusher_pos", "puck_pos")}
    return {"obs": obs, "action": torch.tensor(np.stack([data["action"][s : s + 8] for s in starts]),
                                               dtype=torch.float32)}


@pytest.mark.parametrize("family", ["plain", "equi"])
def test_short_overfit(push_data, family):
    policy = make_policy(push_data, family, denoiser="mlp", denoiser_width=64, denoiser_depth=2)
    batch = _tiny_batch(push_data)

    def eval_loss() -> float:
        with torch.no_grad():  # the same noise and steps every time
            return float(sum(policy.compute_loss(batch, torch.Generator().manual_seed(s)) for s in range(4)) / 4)

    before = eval_loss()
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(200):
        loss = policy.compute_loss(batch, g) + policy.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.5 * before


@pytest.mark.parametrize("family", ["equi", "relaxed"])
def test_export_matches_mlp_policy(push_data, family):
    policy = make_policy(push_data, family, **MLP).eval()
    with torch.no_grad():
        for m in policy.modules():
            if isinstance(m, RelaxedLinear):
                g = torch.Generator().manual_seed(3)
                m.relax_weights.add_(0.3 * torch.randn(m.relax_weights.shape, generator=g))
    exported = export_policy(policy)
    assert not any(isinstance(m, GroupLinear) for m in exported.modules())
    assert not any(type(m).__module__.startswith("escnn") for m in exported.modules())
    assert isinstance(exported.denoiser.mlp, ConditionalMLP)
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2)
    expected = policy.predict_action(obs, noise=noise)
    assert torch.allclose(exported.predict_action(obs, noise=noise), expected, atol=1e-5, rtol=1e-4)


def test_unknown_denoiser_and_bad_sizes_raise(push_data):
    buf, _ = push_data
    with pytest.raises(ValueError, match=r"unknown denoiser 'foo' \(known: unet, mlp\)"):
        DiffusionPolicy(buf.shape_meta, "plain", **{**TINY, "denoiser": "foo"})
    for family in ("plain", "relaxed"):
        with pytest.raises(ValueError, match="denoiser_width must be an integer >= 1"):
            DiffusionPolicy(buf.shape_meta, family, **{**TINY, **MLP, "denoiser_width": 0})
        with pytest.raises(ValueError, match="denoiser_depth must be an integer >= 1"):
            DiffusionPolicy(buf.shape_meta, family, **{**TINY, **MLP, "denoiser_depth": 0})


def test_lightning_module_passes_the_denoiser_options(push_data):
    buf, _ = push_data
    kw = dict(horizon=8, n_obs_steps=2, n_action_steps=4, encoder_fields=4, lift_fields=4,
              shape_meta=buf.shape_meta.to_dict(), symmetry_center=list(CENTER))
    module = DiffusionPolicyModule(model="equi", **MLP, **kw)
    assert isinstance(module.policy.denoiser, EquivariantMLPDenoiser)
    assert module.policy.denoiser.mlp.width == 32 and module.policy.denoiser.mlp.depth == 2
    assert module.hparams["denoiser"] == "mlp"
    with pytest.raises(UserError, match="unknown denoiser 'foo'"):
        DiffusionPolicyModule(model="equi", denoiser="foo", **kw)


@pytest.mark.parametrize("family", ["plain", "equi", "relaxed", "residual"])
def test_the_push_recipe_builds_the_mlp_denoiser(repo, family):
    import yaml

    from equidiff_relaxed.data.synthetic import push_shape_meta

    model = {**yaml.safe_load((repo / "configs/push.yaml").read_text())["model"], "model": family}
    module = DiffusionPolicyModule(**model, shape_meta=push_shape_meta(None).to_dict(), symmetry_center=[0.0, 0.0])
    assert isinstance(module.policy.denoiser, PlainMLPDenoiser if family == "plain" else EquivariantMLPDenoiser)


def test_train_cli_reports_an_unknown_denoiser_in_one_line(repo, tmp_path):
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from tests.conftest import run_script

    make_push_buffer(3, seed=2).save(tmp_path / "push.zarr")
    proc = run_script("train.py", "--config", "configs/push.yaml", "--model.model", "plain", "--data.dataset_path",
                      str(tmp_path / "push.zarr"), "--trainer.default_root_dir", str(tmp_path / "run"),
                      "--trainer.logger", "false", "--model.denoiser", "foo")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert lines == ["error: bad model config: unknown denoiser 'foo' (known: unet, mlp)"], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
