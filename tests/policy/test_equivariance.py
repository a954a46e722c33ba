import functools
import math
import warnings

import pytest
import torch

from equidiff_relaxed.nn.encoders import EquivariantImageNet
from equidiff_relaxed.symmetry.group import SymmetryGroup
from equidiff_relaxed.nn.group_linear import RelaxedLinear
from equidiff_relaxed.nn.penalty import Penalised
from equidiff_relaxed.symmetry import rotate_field, rotate_image
from tests.policy.conftest import CENTER, group_layer, make_policy, obs_batch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from escnn import nn as enn

TOL = 1e-4


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm() / b.norm().clamp_min(1e-12)).detach())


@pytest.mark.parametrize("order", [1, 2, 4, 5, 8])
@pytest.mark.parametrize("kind", ["equivariant", "relaxed", "residual"])
def test_group_linear_exact_at_init(order, kind):
    grp = SymmetryGroup(order)
    G = grp.escnn
    gs = grp.gspace
    tin = enn.FieldType(gs, [grp.block_rep("rot2"), G.trivial_representation])
    lift = group_layer(kind, tin, grp.regular_type(3), banks=3, alpha=1.0, beta=1.0)
    proj = group_layer(kind, grp.regular_type(3), tin, banks=3, alpha=1.0, beta=1.0)
    x = torch.randn(5, tin.size)
    f = lambda v: proj(torch.relu(lift(v)))  # noqa: E731
    for g in G.elements:
        assert rel(f(enn.GeometricTensor(x, tin).transform(g).tensor), enn.GeometricTensor(f(x), tin).transform(g).tensor) < TOL
    if isinstance(lift, Penalised):
        assert lift.penalty().item() == 0.0  # nothing broken yet: nothing to pay
    else:
        assert kind == "equivariant"  # an exact layer has no regulariser


def test_relaxed_layer_breaks_when_perturbed_and_penalty_grows():
    grp = SymmetryGroup(8)
    G = grp.escnn
    gs = grp.gspace
    tin = enn.FieldType(gs, [grp.block_rep("rot2")])
    lift = RelaxedLinear(tin, grp.regular_type(4), banks=2, alpha=0.5)
    with torch.no_grad():
        lift.relax_weights[0, 3] += 0.2
    x = torch.randn(5, 2)
    g = G.element(1)
    err = rel(lift(enn.GeometricTensor(x, tin).transform(g).tensor),
              enn.GeometricTensor(lift(x), grp.regular_type(4)).transform(g).tensor)
    assert err > 1e-2
    assert math.isclose(lift.penalty().item(), 0.5 * 2 * 7 * 0.2, rel_tol=1e-5)


@pytest.mark.parametrize("family", ["equi", "relaxed", "residual"])
def test_encoder_denoiser_and_policy_are_equivariant(push_data, family):
    policy = make_policy(push_data, family).eval()
    obs = obs_batch(push_data)
    nobs = policy._normalize_obs(obs)
    cond = policy.encoder(nobs)
    x = torch.randn(3, 8, 2)
    t = torch.tensor([3, 50, 99])
    eps = policy.denoiser(x, t, cond)
    noise = torch.randn(3, 8, 2)
    act = policy.predict_action(obs, noise=noise)
    for k in range(1, 8):
        phi = 2 * math.pi * k / 8
        robs = {key: rotate_field(v, "pos2", phi, CENTER) for key, v in obs.items()}
        rcond = policy.encoder(policy._normalize_obs(robs))
        assert rel(rcond, torch.roll(cond, k, dims=-1)) < TOL  # regular fields: rotation = cyclic shift
        assert rel(policy.denoiser(rotate_field(x, "pos2", phi), t, rcond), rotate_field(eps, "pos2", phi)) < TOL
        ract = policy.predict_action(robs, noise=rotate_field(noise, "pos2", phi))
        assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) < TOL


def test_plain_policy_is_not_equivariant(push_data):
    policy = make_policy(push_data, "plain").eval()
    obs, noise, phi = obs_batch(push_data), torch.randn(3, 8, 2), math.pi / 2
    act = policy.predict_action(obs, noise=noise)
    ract = policy.predict_action({k: rotate_field(v, "pos2", phi, CENTER) for k, v in obs.items()},
                                 noise=rotate_field(noise, "pos2", phi))
    assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) > 1e-2


def test_relaxed_policy_exact_at_init_not_after_perturbation(push_data):
    policy = make_policy(push_data, "relaxed").eval()
    assert policy.penalty().item() == 0.0
    with torch.no_grad():
        for _, layer in policy.relaxed_layers():
            layer.relax_weights.add_(0.3 * torch.randn_like(layer.relax_weights))
    assert policy.penalty().item() > 0
    obs, noise, phi = obs_batch(push_data), torch.randn(3, 8, 2), 2 * math.pi / 8
    act = policy.predict_action(obs, noise=noise)
    ract = policy.predict_action({k: rotate_field(v, "pos2", phi, CENTER) for k, v in obs.items()},
                                 noise=rotate_field(noise, "pos2", phi))
    assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) > 1e-3


def test_image_encoder_equivariant_for_quarter_turns():
    net = EquivariantImageNet(3, SymmetryGroup(8), fields=2).eval()
    img = torch.rand(2, 3, 16, 16)
    out = net(img).view(2, -1, 8)
    for quarter in (1, 2, 3):
        rotated = net(rotate_image(img, quarter * math.pi / 2)).view(2, -1, 8)
        assert rel(rotated, torch.roll(out, 2 * quarter, dims=-1)) < TOL


def test_inference_does_no_basis_expansion(push_data, monkeypatch):
    policy = make_policy(push_data, "relaxed").eval()
    obs = obs_batch(push_data)
    policy.predict_action(obs, noise=torch.randn(3, 8, 2))  # eval mode: escnn matrices cached

    def forbidden(*args, **kwargs):
        raise AssertionError("basis expansion during inference")

    from escnn.nn.modules.basismanager import BlocksBasisExpansion
    monkeypatch.setattr(BlocksBasisExpansion, "forward", forbidden)
    policy.predict_action(obs, noise=torch.randn(3, 8, 2))


@pytest.mark.parametrize("family, order, encoder", [("equi", 8, "small"), ("relaxed", 4, "small"),
                                                    ("relaxed_conv", 8, "deep")])
def test_image_policy_equivariant_for_quarter_turns(family, order, encoder):
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
    from tests.policy.conftest import TINY

    buf = make_push_buffer(3, seed=0, image_size=16)
    torch.manual_seed(0)
    policy = DiffusionPolicy(buf.shape_meta, family, group_order=order, image_encoder=encoder, **TINY)
    policy.fit_normalizer(buf.load_arrays(["pusher_pos", "puck_pos", "action"]))
    policy.eval()
    obs = obs_batch((None, buf.load_arrays(["pusher_pos", "puck_pos"])), 2)
    obs["image"] = torch.rand(2, 2, 3, 16, 16)
    noise = torch.randn(2, 8, 2)
    act = policy.predict_action(obs, noise=noise)
    for quarter in (1, 2, 3):
        phi = quarter * math.pi / 2
        robs = {k: rotate_field(v, "pos2", phi, CENTER) for k, v in obs.items() if k != "image"}
        robs["image"] = rotate_image(obs["image"], phi)
        ract = policy.predict_action(robs, noise=rotate_field(noise, "pos2", phi))
        assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) < TOL


def test_relax_where_selects_the_relaxed_part(push_data):
    for where, expected in (("encoder", {"encoder"}), ("denoiser", {"denoiser"}), ("all", {"encoder", "denoiser"})):
        policy = make_policy(push_data, "relaxed", relax_where=where)
        assert {name.split(".")[0] for name, _ in policy.relaxed_layers()} == expected


def test_denoiser_equivariant_for_robosuite_absolute_actions():
    """pos3 + rot6d + scalar (EquiDiff's 10-D absolute pose action) through the group-folded denoiser."""
    from scipy.spatial.transform import Rotation

    from equidiff_relaxed.data.shape_meta import ShapeMeta
    from equidiff_relaxed.nn.denoisers import EquivariantDenoiser
    from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d

    meta = ShapeMeta.from_dict({"obs": {"p": {"shape": [3], "rep": "pos3"}},
                                "action": {"shape": [10], "rep": "pos3+rot6d+scalar"}})
    net = EquivariantDenoiser(meta.action, cond_fields=4, group=SymmetryGroup(8), lift_fields=4, down_dims=(8, 16),
                              n_groups=4, layer=functools.partial(RelaxedLinear, banks=2)).eval()
    rot = torch.tensor(matrix_to_rot6d(Rotation.random(2 * 8, random_state=0).as_matrix()), dtype=torch.float32)
    x = torch.cat([torch.randn(2, 8, 3), rot.view(2, 8, 6), torch.rand(2, 8, 1)], dim=-1)
    cond, t = torch.randn(2, 4, 8), torch.tensor([5, 60])
    y = net(x, t, cond)
    for k in (1, 3, 6):
        phi = 2 * math.pi * k / 8
        ry = net(rotate_field(x, "pos3+rot6d+scalar", phi), t, torch.roll(cond, k, dims=-1))
        assert rel(ry, rotate_field(y, "pos3+rot6d+scalar", phi)) < TOL


def _camera_policy(family: str, order: int = 8):
    from equidiff_relaxed.data.shape_meta import ShapeMeta
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
    from tests.policy.conftest import TINY

    buf = make_push_buffer(3, seed=0)
    meta = buf.shape_meta.to_dict()
    meta["obs"]["cam"] = {"shape": [3, 16, 16], "type": "rgb", "rep": "camera"}
    torch.manual_seed(0)
    policy = DiffusionPolicy(ShapeMeta.from_dict(meta), family, group_order=order, **TINY)
    policy.fit_normalizer(buf.load_arrays(["pusher_pos", "puck_pos", "action"]))
    obs = obs_batch((None, buf.load_arrays(["pusher_pos", "puck_pos"])), 2)
    obs["cam"] = torch.rand(2, 2, 3, 16, 16)
    return policy.eval(), obs


@pytest.mark.parametrize("family", ["equi", "relaxed"])
def test_fixed_camera_is_an_invariant_input(family):
    """A 'camera' image does not turn with the layout: rotating the low-dim fields (camera image unchanged) rotates
    the action by any element of C_8, not only quarter turns; the image still changes the action."""
    policy, obs = _camera_policy(family)
    noise = torch.randn(2, 8, 2)
    act = policy.predict_action(obs, noise=noise)
    for k in (1, 3, 5):
        phi = 2 * math.pi * k / 8
        robs = {key: rotate_field(v, "pos2", phi, CENTER) if key != "cam" else v for key, v in obs.items()}
        ract = policy.predict_action(robs, noise=rotate_field(noise, "pos2", phi))
        assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) < TOL
    other = dict(obs, cam=torch.rand(2, 2, 3, 16, 16))
    assert rel(policy.predict_action(other, noise=noise), act) > 1e-4


def test_camera_images_are_left_alone_by_augmentation_and_diagnostics():
    from equidiff_relaxed.policy.diagnostics import rotate_obs, angles_to_test

    policy, obs = _camera_policy("relaxed")
    assert len(angles_to_test(policy)) == 7  # all of C_8: no top-down image restricts them to quarter turns
    assert torch.equal(rotate_obs(policy, obs, 0.7)["cam"], obs["cam"])
    batch = {"obs": obs, "action": torch.randn(2, 8, 2)}
    rotated = policy.rotate_batch(batch, torch.tensor([0.5, 2.0]))
    assert torch.equal(rotated["obs"]["cam"], obs["cam"])
    assert not torch.allclose(rotated["obs"]["pusher_pos"], obs["pusher_pos"])
