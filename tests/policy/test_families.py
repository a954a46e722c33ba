"""The model-family registry: the built-in families (registered first, in the order of tables), clear errors for
unknown names, each family's own options (refused by the others), and a newly registered family that the policy, the
sweep and the diagnostics pick up with no other edit."""
import pytest

from equidiff_relaxed.errors import UserError
from studies.lib import sweep
from equidiff_relaxed.policy.diagnostics import angles_to_test
from equidiff_relaxed.nn.group_linear import RelaxedLinear, group_linear_layers
from equidiff_relaxed.policy.families import Family, family_names, get_family, register, unregister
from equidiff_relaxed.policy.families.relaxed import RelaxedFamily
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.families.gated import GatedOptions
from tests.policy.conftest import make_policy


def test_registered_families_and_what_they_are():
    names = ("plain", "equi", "relaxed", "residual", "subgroup", "dihedral_equi", "dihedral_relaxed", "cause_equi",
             "canonical", "local", "gated")
    assert family_names()[:len(names)] == names  # built-ins first; plug-ins may add more
    assert [get_family(n).group_axis for n in names] == [False] + [True] * 7 + [False, True, True]
    assert [get_family(n).exact for n in names] == [False, True, False, False, False, True, False, False, True, False,
                                                   False]
    assert [get_family(n).starts_exact for n in names] == [False] + [True] * 10
    assert [get_family(n).learns_breaking for n in names] == [False, False, True, False, True, False, True] + [False] * 4
    assert [get_family(n).group_letter for n in names] == list("CCCCCDDCCCC")
    assert [n for n in names if "subgroup_order" in get_family(n).option_names()] == ["subgroup"]
    with pytest.raises(ValueError, match="unknown model 'relaxd' .known: plain, equi, relaxed, residual, subgroup"):
        get_family("relaxd")
    with pytest.raises(UserError, match="unknown model"):
        sweep.parse_model("relaxed_from_eqi")
    with pytest.raises(ValueError, match="already registered"):
        register(Family("equi", "again"))
    with pytest.raises(ValueError, match="identifier"):
        Family("a_from_b", "would confuse the sweep's <model>_from_<base> labels")


@pytest.fixture
def extra_family():
    family = register(RelaxedFamily("relaxed_wide", "a test family: the relaxed family's class under another name"))
    try:
        yield family
    finally:
        unregister(family.name)


def test_a_registered_family_works_everywhere_without_other_edits(push_data, extra_family):
    policy = make_policy(push_data, "relaxed_wide")
    assert policy.model_family == "relaxed_wide"
    kinds = {type(layer) for _, layer in group_linear_layers(policy)}
    assert kinds == {RelaxedLinear} and len(policy.relaxed_layers()) > 0
    assert len(angles_to_test(policy)) == policy.group_order - 1  # diagnostics treat it as a symmetric family
    assert sweep.parse_model("relaxed_wide_from_equi") == ("relaxed_wide", "equi")
    labels = ["relaxed_wide", "plain", "relaxed_wide_from_equi", "residual"]
    assert sorted(labels, key=sweep.model_order) == ["plain", "residual", "relaxed_wide", "relaxed_wide_from_equi"]
    colors = [sweep.model_color(name) for name in family_names()]
    assert len(set(colors)) == len(colors) and sweep.model_color("relaxed_wide") == colors[-1]  # one colour each
    unregister("relaxed_wide")
    with pytest.raises(ValueError, match="unknown model 'relaxed_wide'"):
        make_policy(push_data, "relaxed_wide")


def test_each_family_takes_its_own_options_and_refuses_the_others():
    with pytest.raises(ValueError, match=r"^model 'plain' does not take relax_alpha \(an option of relaxed, subgroup, "
                                         r"dihedral_relaxed\); its own options: none$"):
        PolicyConfig(model="plain", relax_alpha=1e-3)
    with pytest.raises(ValueError, match=r"model 'relaxed' does not take gate_alpha \(an option of gated\), "
                                         r"local_elements \(an option of local\); its own options: relax_banks, "
                                         r"relax_alpha, relax_where$"):
        PolicyConfig(model="relaxed", gate_alpha=0.1, local_elements=2)
    cfg = PolicyConfig(model="gated", gate_alpha=0.1)
    assert cfg.family_options == GatedOptions(gate_alpha=0.1)
    assert (cfg.gate_init, cfg.gate_warmup, cfg.relax_alpha) == (0.5, 0.25, None)  # its defaults; others unset
    assert {"gate_alpha", "gate_init", "gate_warmup"} <= set(cfg.to_dict()) and "relax_alpha" not in cfg.to_dict()
    with pytest.raises(ValueError, match="gate_init must be a number in"):
        PolicyConfig(model="gated", gate_init=1.5)
    # a checkpoint written before families had their own options recorded every option for every family
    recorded = {**PolicyConfig(model="plain").to_dict(), "relax_alpha": 1e-3, "residual_beta": 1.0, "gate_alpha": 0.01}
    assert PolicyConfig.from_dict(recorded, recorded=True) == PolicyConfig(model="plain")
    with pytest.raises(ValueError, match="does not take gate_alpha .*relax_alpha"):
        PolicyConfig.from_dict(recorded)
