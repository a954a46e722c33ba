"""The D_N and subgroup families, per group element: dihedral_equi is exact for every element of D_N (rotations and
reflections across the data's axis), dihedral_relaxed is exact at init and breaks when its weights move, subgroup is
exact on C_M at any weights and breaks only on the other cosets; diagnostics and augmentation use the group."""
import pytest
import torch

from equidiff_relaxed.policy.diagnostics import equivariance_error, elements_to_test
from equidiff_relaxed.symmetry.group import SymmetryGroup
from tests.policy.conftest import CENTER, make_policy, obs_batch

TOL = 1e-4
AXIS = 0.7


def element_errors(policy, push_data) -> list[float]:
    """Relative error |pi(g o) - g pi(o)| / |pi(o)| for every element h of policy.group (index h)."""
    policy.eval()
    group = policy.group
    obs, noise = obs_batch(push_data), torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(2))
    base = policy.predict_action(obs, noise=noise)
    errors = []
    for e in group.elements:
        moved_obs = {k: group.act(v, "pos2", e, CENTER) for k, v in obs.items()}
        moved = policy.predict_action(moved_obs, noise=group.act(noise, "pos2", e, (0.0, 0.0)))
        expected = group.act(base, "pos2", e, CENTER)
        errors.append(float((moved - expected).norm() / expected.norm()))
    return errors


def build(push_data, family, **kwargs):
    return make_policy(push_data, family, reflection_axis=AXIS, **kwargs)


def perturb(policy) -> None:
    torch.manual_seed(5)
    with torch.no_grad():
        for _, layer in policy.relaxed_layers():
            layer.relax_weights.add_(0.3 * torch.randn_like(layer.relax_weights))


def test_dihedral_equi_is_exact_for_rotations_and_reflections(push_data):
    policy = build(push_data, "dihedral_equi")
    assert policy.group == SymmetryGroup(8, True, AXIS) and policy.group.size == 16
    errors = element_errors(policy, push_data)
    assert len(errors) == 16 and max(errors) < TOL
    assert equivariance_error(policy, [{k: v[0] for k, v in obs_batch(push_data).items()}])["rel"] < TOL
    assert len(elements_to_test(policy)) == 15 and sum(e.reflect for e in elements_to_test(policy)) == 8


def test_dihedral_relaxed_is_exact_at_init_and_breaks_when_perturbed(push_data):
    policy = build(push_data, "dihedral_relaxed")
    assert max(element_errors(policy, push_data)) < TOL and policy.penalty().item() == 0.0
    assert all(layer.relax_weights.shape[1] == 16 for _, layer in policy.relaxed_layers())
    perturb(policy)
    errors = element_errors(policy, push_data)
    assert errors[0] < TOL and min(errors[1:]) > 1e-3 and policy.penalty().item() > 0


@pytest.mark.parametrize("sub_order", [4, 2])
def test_subgroup_family_is_exact_on_the_subgroup_at_any_weights(push_data, sub_order):
    policy = build(push_data, "subgroup", subgroup_order=sub_order)
    assert policy.config.family_options.subgroup_order == sub_order
    assert max(element_errors(policy, push_data)) < TOL  # exact for all of C_8 at init
    perturb(policy)
    members = set(policy.group.subgroup_indices(SymmetryGroup(sub_order)))
    assert all(layer.exact_elements() == members for _, layer in policy.relaxed_layers())
    assert members == set(range(0, 8, 8 // sub_order))
    errors = element_errors(policy, push_data)
    assert all(errors[h] < TOL for h in members)
    assert all(errors[h] > 1e-3 for h in range(8) if h not in members)


def test_dihedral_families_augment_with_reflections(push_data):
    policy = build(push_data, "plain", augment="cn")
    _, flips = policy._augment_elements(64, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert not flips.any()  # plain: C_N elements
    policy = build(push_data, "dihedral_equi", augment="cn")
    phi, flips = policy._augment_elements(64, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert 0 < int(flips.sum()) < 64
    batch = {"obs": obs_batch(push_data, 2), "action": torch.randn(2, 8, 2)}
    moved = policy.transform_batch(batch, phi[:2], torch.ones(2))
    back = policy.transform_batch(policy.transform_batch(moved, -phi[:2]), torch.zeros(2), torch.ones(2))
    assert torch.allclose(back["action"], batch["action"], atol=1e-5)
    assert torch.allclose(back["obs"]["puck_pos"], batch["obs"]["puck_pos"], atol=1e-5)
