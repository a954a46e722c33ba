"""The model-family registry: the seven built-in families (registered first), clear errors for unknown names, and a newly registered family that
the policy, the sweep and the diagnostics pick up with no other edit."""
import pytest

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval import sweep
from equidiff_relaxed.eval.diagnostics import angles_to_test
from equidiff_relaxed.nn.group_linear import group_linear_layers
from equidiff_relaxed.policy.families import Family, family_names, get_family, register, unregister
from tests.policy.conftest import make_policy


def test_registered_families_and_what_they_are():
    names = ("plain", "equi", "relaxed", "residual", "subgroup", "dihedral_equi", "dihedral_relaxed")
    assert family_names()[:len(names)] == names  # built-ins first; plug-ins may add more
    assert [get_family(n).symmetric for n in names] == [False, True, True, True, True, True, True]
    assert [get_family(n).exact for n in names] == [False, True, False, False, False, True, False]
    assert [get_family(n).learns_breaking for n in names] == [False, False, True, False, True, False, True]
    assert [get_family(n).group_letter for n in names] == list("CCCCCDD")
    assert [n for n in names if get_family(n).subgroup] == ["subgroup"]
    with pytest.raises(ValueError, match="unknown model 'relaxd' .known: plain, equi, relaxed, residual, subgroup"):
        get_family("relaxd")
    with pytest.raises(UserError, match="unknown model"):
        sweep.parse_model("relaxed_from_eqi")
    with pytest.raises(ValueError, match="already registered"):
        register(Family("equi", "equivariant", "again"))
    with pytest.raises(ValueError, match="identifier"):
        Family("a_from_b", "relaxed", "would confuse the sweep's <model>_from_<base> labels")


@pytest.fixture
def extra_family():
    family = register(Family("relaxed_wide", "relaxed", "a test family: relaxed layers, registered by one line"))
    try:
        yield family
    finally:
        unregister(family.name)


def test_a_registered_family_works_everywhere_without_other_edits(push_data, extra_family):
    policy = make_policy(push_data, "relaxed_wide")
    assert policy.model_family == "relaxed_wide"
    kinds = {layer.kind for _, layer in group_linear_layers(policy)}
    assert kinds == {"relaxed"} and len(policy.relaxed_layers()) > 0
    assert len(angles_to_test(policy)) == policy.group_order - 1  # diagnostics treat it as a symmetric family
    assert sweep.parse_model("relaxed_wide_from_equi") == ("relaxed_wide", "equi")
    labels = ["relaxed_wide", "plain", "relaxed_wide_from_equi", "residual"]
    assert sorted(labels, key=sweep.model_order) == ["plain", "residual", "relaxed_wide", "relaxed_wide_from_equi"]
    colors = [sweep.model_color(name) for name in family_names()]
    assert len(set(colors)) == len(colors) and sweep.model_color("relaxed_wide") == colors[-1]  # one colour each
    unregister("relaxed_wide")
    with pytest.raises(ValueError, match="unknown model 'relaxed_wide'"):
        make_policy(push_data, "relaxed_wide")
