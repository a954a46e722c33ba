"""GroupLinear computes its L banks (and residual) as ONE folded matrix: the folded map equals the sum of the banks'
outputs, the fast regular -> regular fold equals the generic one (values and gradients), and the eval-mode cache
follows parameter changes."""
import warnings

import pytest
import torch

from equidiff_relaxed.symmetry.group import SymmetryGroup
from equidiff_relaxed.nn.group_linear import GroupLinear, RelaxedLinear
from equidiff_relaxed.nn.mlp_denoiser import ConditionalMLP
from tests.policy.conftest import group_layer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from escnn import nn as enn


def bank_sum(layer: GroupLinear, x: torch.Tensor) -> torch.Tensor:
    """Reference: run every escnn bank on its own, weigh by w_l(h) on the relaxed side, add (plus the residual)."""
    n = layer.group_order
    out = 0.0
    for l, bank in enumerate(layer.banks):
        w = layer.relax_weights[l] if isinstance(layer, RelaxedLinear) else torch.ones(n)
        xi = (x.view(x.shape[0], -1, n) * w).reshape(x.shape) if layer.relax_on == "input" else x
        y = bank(enn.GeometricTensor(xi, layer.in_type)).tensor
        out = out + ((y.view(y.shape[0], -1, n) * w).reshape(y.shape) if layer.relax_on == "output" else y)
    if layer.residual is not None:
        out = out + layer.residual(x)
    return out


def randomise(layer: GroupLinear) -> None:
    with torch.no_grad():
        layer.relax_weights.copy_(torch.rand_like(layer.relax_weights))
        for p in layer.parameters():
            if p is not layer.relax_weights:
                p.add_(0.1 * torch.randn_like(p))


def make(order: int, regular_in: bool, regular_out: bool, kind: str = "relaxed", banks: int = 3) -> GroupLinear:
    grp = SymmetryGroup(order)
    G = grp.escnn
    gs = grp.gspace
    irreps = enn.FieldType(gs, [grp.block_rep("rot2"), G.trivial_representation])
    tin = grp.regular_type(3) if regular_in else irreps
    tout = grp.regular_type(5) if regular_out else irreps
    return group_layer(kind, tin, tout, banks=banks)


@pytest.mark.parametrize("order", [4, 8])
@pytest.mark.parametrize("relax_on", ["output", "input"])
def test_fast_regular_fold_matches_bank_sum_and_generic_fold(order, relax_on):
    grp = SymmetryGroup(order)
    layer = RelaxedLinear(grp.regular_type(3), grp.regular_type(5), banks=3, relax_on=relax_on)
    assert layer._regular_blocks  # the fast path is taken for regular -> regular relaxed layers
    randomise(layer)
    x = torch.randn(7, layer.in_type.size)
    assert torch.allclose(layer(x), bank_sum(layer, x), atol=1e-5)
    fast = layer._fold_regular_blocks(layer.relax_weights)
    generic = layer._fold_banks(layer.relax_weights)
    assert torch.allclose(fast[0], generic[0], atol=1e-6) and torch.allclose(fast[1], generic[1], atol=1e-6)
    grads = []
    for fold in (layer._fold_regular_blocks, layer._fold_banks):
        layer.zero_grad()
        m, b = fold(layer.relax_weights)
        (m.sin().sum() + b.cos().sum()).backward()
        grads.append([p.grad.clone() for p in layer.parameters()])
    for g_fast, g_generic in zip(*grads):
        assert torch.allclose(g_fast, g_generic, atol=1e-5)


@pytest.mark.parametrize("kind", ["relaxed", "residual", "equivariant"])
@pytest.mark.parametrize("regular_in, regular_out", [(False, True), (True, False), (True, True)])
def test_folded_forward_equals_bank_sum(kind, regular_in, regular_out):
    layer = make(8, regular_in, regular_out, kind)
    assert getattr(layer, "_regular_blocks", False) == (kind == "relaxed" and regular_in and regular_out)
    randomise(layer)
    x = torch.randn(6, layer.in_type.size)
    assert torch.allclose(layer(x), bank_sum(layer, x), atol=1e-5)


def test_eval_cache_follows_parameter_changes():
    layer = make(8, True, True).eval()
    x = torch.randn(4, layer.in_type.size)
    before = layer(x)
    assert torch.equal(layer(x), before)  # cached
    with torch.no_grad():
        layer.relax_weights[0, 2] += 0.5  # in-place change: the cache must notice
    after = layer(x)
    assert not torch.allclose(after, before)
    assert torch.allclose(after, bank_sum(layer, x), atol=1e-5)
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    randomise(layer)
    layer.load_state_dict(state)
    assert torch.allclose(layer(x), after, atol=1e-6)


def test_conditional_mlp_shares_the_step_term_across_row_groups():
    torch.manual_seed(0)
    net = ConditionalMLP(in_dim=6, out_dim=6, cond_dim=5, width=16, depth=2)
    b, r = 3, 4
    x, cond, step = torch.randn(b * r, 6), torch.randn(b * r, 5), torch.tensor([2, 40, 97])
    grouped = net(x, step, cond)
    per_row = net(x, step.repeat_interleave(r), cond)  # every row with its own copy of the step
    assert torch.allclose(grouped, per_row, atol=1e-6)
    # the same function as the modulation layer applied to the concatenation [step_emb, cond] of every row
    c = torch.cat([net.step_embed(step.repeat_interleave(r)), cond], dim=-1)
    mods = net.modulation(c).view(b * r, net.depth + 1, 2, net.width)
    h = net.inp(x)
    for i, block in enumerate(net.blocks):
        h = block(h, mods[:, i, 0], mods[:, i, 1])
    ref = net.out(net.out_norm(h) * (1 + mods[:, -1, 0]) + mods[:, -1, 1])
    assert torch.allclose(grouped, ref, atol=1e-5)
    with pytest.raises(ValueError, match="groups"):
        net(x[:5], step[:2], cond[:5])


def test_group_linear_is_an_escnn_module_with_per_element_check_and_export():
    exact = make(8, False, True, "equivariant")
    assert isinstance(exact, enn.EquivariantModule)
    errors = exact.check_equivariance()
    assert len(errors) == 8 and max(e for _, e in errors) < 1e-5
    relaxed = make(8, False, True, "relaxed")
    assert max(e for _, e in relaxed.check_equivariance()) < 1e-5  # exactly equivariant at init
    with torch.no_grad():
        relaxed.relax_weights[0, 3] += 0.5
    errors = dict((g.to("int"), e) for g, e in relaxed.check_equivariance())
    assert errors[0] < 1e-6 and min(errors[k] for k in range(1, 8)) > 1e-3  # the identity cannot break symmetry
    x = torch.randn(5, relaxed.in_type.size)
    geo = relaxed(enn.GeometricTensor(x, relaxed.in_type))
    assert isinstance(geo, enn.GeometricTensor) and geo.type == relaxed.out_type
    assert torch.allclose(geo.tensor, relaxed(x))
    exported = relaxed.export()
    assert isinstance(exported, torch.nn.Linear) and not exported.training
    assert torch.allclose(exported(x), relaxed(x), atol=1e-6)
    assert relaxed.evaluate_output_shape((5, relaxed.in_type.size)) == (5, relaxed.out_type.size)
