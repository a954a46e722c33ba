"""export_policy: plain-PyTorch copies compute what the escnn policy computes, and stay equivariant."""
import math

import pytest
import torch

from equidiff_relaxed.nn.export import export_policy
from equidiff_relaxed.nn.group_linear import GroupLinear, RelaxedLinear
from equidiff_relaxed.symmetry import rotate_field, rotate_image
from tests.policy.conftest import CENTER, TINY, make_policy, obs_batch


def _perturb(policy) -> None:
    """Move every relaxation weight and residual pathway away from its (exact) initial value."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in policy.modules():
            if isinstance(m, GroupLinear):
                if isinstance(m, RelaxedLinear):
                    m.relax_weights.add_(0.3 * torch.randn(m.relax_weights.shape, generator=g))
                if m.residual is not None:
                    m.residual.weight.add_(0.1 * torch.randn(m.residual.weight.shape, generator=g))


@pytest.mark.parametrize("family", ["equi", "relaxed", "residual"])
@pytest.mark.parametrize("banks", [2, 3])
def test_exported_policy_matches_and_has_no_escnn_left(push_data, family, banks):
    policy = make_policy(push_data, family, **({"relax_banks": banks} if family == "relaxed" else {})).eval()
    _perturb(policy)
    exported = export_policy(policy)
    assert not any(isinstance(m, GroupLinear) for m in exported.modules())
    assert not any(type(m).__module__.startswith("escnn") for m in exported.modules())
    assert any(isinstance(m, GroupLinear) for m in policy.modules()), "the original is left untouched"
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2)
    expected = policy.predict_action(obs, noise=noise)
    got = exported.predict_action(obs, noise=noise)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4)


def test_exported_relaxed_policy_keeps_its_symmetry_breaking(push_data):
    policy = make_policy(push_data, "relaxed").eval()
    exported_exact = export_policy(policy)
    _perturb(policy)
    exported_broken = export_policy(policy)
    obs, noise, phi = obs_batch(push_data), torch.randn(3, 8, 2), 2 * math.pi / 8
    robs = {k: rotate_field(v, "pos2", phi, CENTER) for k, v in obs.items()}
    rnoise = rotate_field(noise, "pos2", phi)
    for exported, equivariant in ((exported_exact, True), (exported_broken, False)):
        act = rotate_field(exported.predict_action(obs, noise=noise), "pos2", phi, CENTER)
        ract = exported.predict_action(robs, noise=rnoise)
        err = ((ract - act).norm() / act.norm()).item()
        assert (err < 1e-4) if equivariant else (err > 1e-3)


@pytest.mark.parametrize("family", ["equi", "relaxed_conv"])
def test_exported_image_policy_matches_and_is_equivariant_for_quarter_turns(family):
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy

    buf = make_push_buffer(3, seed=0, image_size=16)
    torch.manual_seed(0)
    policy = DiffusionPolicy(buf.shape_meta, family, group_order=4, **TINY)
    policy.fit_normalizer(buf.load_arrays(["pusher_pos", "puck_pos", "action"]))
    policy.eval()
    exported = export_policy(policy)
    obs = obs_batch((None, buf.load_arrays(["pusher_pos", "puck_pos"])), 2)
    obs["image"] = torch.rand(2, 2, 3, 16, 16)
    noise = torch.randn(2, 8, 2)
    act = exported.predict_action(obs, noise=noise)
    assert torch.allclose(act, policy.predict_action(obs, noise=noise), atol=1e-5, rtol=1e-4)
    robs = {k: rotate_field(v, "pos2", math.pi / 2, CENTER) for k, v in obs.items() if k != "image"}
    robs["image"] = rotate_image(obs["image"], math.pi / 2)
    ract = exported.predict_action(robs, noise=rotate_field(noise, "pos2", math.pi / 2))
    assert torch.allclose(ract, rotate_field(act, "pos2", math.pi / 2, CENTER), atol=1e-4, rtol=1e-3)
