"""The symmetry-group object: C_N / D_N elements act on every representation by the group laws (reflections
included), the escnn representation the networks use is the same action as the one applied to data, and subgroup
cosets are what a K-equivariant relaxed layer needs."""
import math
import warnings

import numpy as np
import pytest
import torch

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.nn.fields import IrrepLayout
from equidiff_relaxed.nn.group_linear import RelaxedLinear
from equidiff_relaxed.symmetry.actions import transform_field
from equidiff_relaxed.symmetry.group import Element, SymmetryGroup
from tests.symmetry.test_actions import CENTER, REPS, same, sample

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from escnn import nn as enn

GROUPS = [SymmetryGroup(8), SymmetryGroup(4, True, 0.0), SymmetryGroup(8, True, 1.1), SymmetryGroup(3, True, -0.4)]


def act(group: SymmetryGroup, h: int, x: np.ndarray, rep: str) -> np.ndarray:
    return group.act(x, rep, group.element(h), CENTER)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: f"{g.name}_axis{g.axis}")
@pytest.mark.parametrize("rep", list(REPS))
def test_every_rep_obeys_the_group_laws(group, rep):
    """identity, composition g (h x) = (g h) x with escnn's product, and (for reflections) S S = e."""
    x = sample(rep, 12, np.random.default_rng(1))
    G = group.escnn
    index = {g: h for h, g in enumerate(G.elements)}
    assert same(act(group, 0, x, rep), x, rep)
    for a, ga in enumerate(G.elements):
        for b, gb in enumerate(G.elements):
            assert same(act(group, a, act(group, b, x, rep), rep), act(group, index[ga @ gb], x, rep), rep), (a, b)
    if group.reflections and rep != "scalar":
        mirrored = act(group, group.order, x, rep)  # h = N: the reflection itself
        assert not same(mirrored, x, rep) and same(act(group, group.order, mirrored, rep), x, rep)


@pytest.mark.parametrize("rep", ["pos2", "vec2", "pos3", "rot6d", "quat", "angle"])
def test_reflection_across_any_axis_is_an_involution_and_conjugates_rotations(rep):
    """Continuous O(2): S_a S_a = e and S_a R(phi) = R(-phi) S_a, for any axis a."""
    x = sample(rep, 12, np.random.default_rng(2))
    for axis in (0.0, 0.7, -2.3):
        def mirror(v, phi=0.0):
            return transform_field(v, rep, phi, True, CENTER, axis)

        assert same(mirror(mirror(x)), x, rep)
        rotated = transform_field(x, rep, 0.9, False, CENTER)
        assert same(mirror(rotated), transform_field(mirror(x), rep, -0.9, False, CENTER), rep)


def test_per_sample_reflection_flags():
    x = sample("pos2+vec2+angle+scalar:2", 6, np.random.default_rng(3))
    flags = np.array([0, 1, 0, 1, 1, 0], dtype=bool)
    phi = np.linspace(0, 3, 6)
    both = transform_field(x, "pos2+vec2+angle+scalar:2", phi, flags, CENTER, 0.5)
    for i in range(6):
        one = transform_field(x[i], "pos2+vec2+angle+scalar:2", phi[i], bool(flags[i]), CENTER, 0.5)
        assert same(both[i], one, "pos2+vec2+angle+scalar:2")


@pytest.mark.parametrize("group", GROUPS + [SymmetryGroup(2), SymmetryGroup(1)], ids=lambda g: g.name)
@pytest.mark.parametrize("rep", [r for r in REPS if r != "scalar"])
def test_network_representation_is_the_data_action(group, rep):
    """The escnn type the networks build from the table transforms a field's network coordinates exactly as the
    data action transforms the field (centre 0: normalised space), for every element."""
    meta = ShapeMeta.from_dict({"obs": {"x": {"shape": [REPS[rep]], "rep": rep}},
                                "action": {"shape": [2], "rep": "pos2"}})
    layout = IrrepLayout.of(meta.obs["x"])
    ftype = enn.FieldType(group.gspace, layout.representations(group))
    x = torch.tensor(sample(rep, 5, np.random.default_rng(4)), dtype=torch.float64)
    coords = layout.to_irreps(x)
    for h, g in enumerate(group.escnn.elements):
        moved = layout.to_irreps(group.act(x, rep, group.element(h), (0.0, 0.0)))
        expected = coords @ torch.tensor(ftype.representation(g), dtype=torch.float64).T
        assert torch.allclose(moved, expected, atol=1e-9), (group.name, h)


def test_parse_names_and_bad_groups():
    assert SymmetryGroup.parse("D8", 0.3) == SymmetryGroup(8, True, 0.3) and SymmetryGroup(8).name == "C8"
    assert SymmetryGroup(6, True).size == 12 and SymmetryGroup(6).size == 6
    for bad in ("E8", "C", "Cx", "8"):
        with pytest.raises(ValueError, match="unknown group"):
            SymmetryGroup.parse(bad)
    with pytest.raises(ValueError, match="order"):
        SymmetryGroup(0)
    with pytest.raises(ValueError, match="divide"):
        SymmetryGroup(8).subgroup(3)


@pytest.mark.parametrize("group, sub_order", [(SymmetryGroup(8), m) for m in (1, 2, 4)]
                         + [(SymmetryGroup(8, True, 0.5), m) for m in (1, 2, 4)] + [(SymmetryGroup(6), 2),
                                                                                   (SymmetryGroup(6), 3)],
                         ids=lambda v: v.name if isinstance(v, SymmetryGroup) else str(v))
def test_cosets_of_a_subgroup(group, sub_order):
    sub = group.subgroup(sub_order)
    labels = group.coset_index(sub)
    members = group.subgroup_indices(sub)
    assert len(members) == sub.size and len(set(labels)) == group.size // sub.size
    assert {h for h in range(group.size) if labels[h] == labels[0]} == set(members)  # K is the identity's coset
    G, index = group.escnn, {g: h for h, g in enumerate(group.escnn.elements)}
    for k in members:  # labels are constant on right cosets K h
        for h, g in enumerate(G.elements):
            assert labels[index[G.elements[k] @ g]] == labels[h]


@pytest.mark.parametrize("group", [SymmetryGroup(8), SymmetryGroup(4, True, 0.3)], ids=lambda g: g.name)
@pytest.mark.parametrize("relax_on", ["output", "input"])
def test_subgroup_layer_is_exact_on_the_subgroup_and_relaxed_across_cosets(group, relax_on):
    sub = group.subgroup(group.order // 2)
    irreps = enn.FieldType(group.gspace, [group.block_rep("rot2"), group.block_rep("trivial")])
    reg = group.regular_type(3)
    tin, tout = (irreps, reg) if relax_on == "output" else (reg, irreps)
    layer = RelaxedLinear(tin, tout, banks=2, alpha=0.1, relax_on=relax_on,
                        coset_index=group.coset_index(sub))
    assert layer.relax_weights.shape == (2, 2)  # one weight per coset and bank
    assert max(err for _, err in layer.check_equivariance()) < 1e-5  # starts exactly G-equivariant
    with torch.no_grad():
        layer.relax_weights.copy_(torch.tensor([[0.2, 0.9], [0.7, 0.1]]))
    errors = layer.check_equivariance()  # asserts exactness on K itself
    members = set(group.subgroup_indices(sub))
    assert layer.exact_elements() == members
    assert all(err < 1e-5 for h, (_, err) in enumerate(errors) if h in members)
    assert all(err > 1e-3 for h, (_, err) in enumerate(errors) if h not in members)
    assert layer.penalty().item() > 0


def test_sample_draws_group_elements_with_reflections():
    g = torch.Generator().manual_seed(0)
    phi, flip = SymmetryGroup(4, True).sample(400, g)
    assert set(torch.round(phi / (math.pi / 2)).long().tolist()) == {0, 1, 2, 3}
    assert set(flip.tolist()) == {0.0, 1.0}
    phi, flip = SymmetryGroup(4).sample(50, g, continuous=True)
    assert not torch.any(flip) and len(set(phi.tolist())) == 50
    assert SymmetryGroup(3, True).element(4) == Element(2 * math.pi / 3, True)
