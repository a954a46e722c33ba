"""Relaxed group convolutions in the top-down image encoder (the relaxed_conv family): the exact encoder at
initialisation for every element of C_8 acting on the crop, relaxation weights that receive gradient and break the
symmetry only through themselves, the prior, the per-layer diagnostics and the one-line refusals."""
import functools
import math

import pytest
import torch

from equidiff_relaxed._escnn import enn, gspaces
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.data.synthetic import make_push_buffer
from equidiff_relaxed.nn.encoders import EquivariantImageNet
from equidiff_relaxed.nn.r2conv import R2Conv
from equidiff_relaxed.nn.relaxed_conv import RelaxedR2Conv, quarter_turn_errors, relaxed_convs
from equidiff_relaxed.policy.diagnostics import image_layer_errors, relaxation_weights
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.symmetry import rotate_image
from equidiff_relaxed.symmetry.group import SymmetryGroup
from tests.policy.conftest import TINY
from tests.policy.test_equivariance import TOL

# Turns by an odd multiple of 45 degrees are not permutations of pixels: the rotated image is interpolated, so even an
# exactly equivariant encoder is only approximately so (measured on these smooth images: 0.01-0.04 for the small
# encoder, 0.12 for the deep one, 0.13 for the resnet, whose max pooling passes on interpolation differences;
# docs/policy.md).
OFF_GRID_TOL = {"pool": 0.1, "stride": 0.1, "deep": 0.15, "resnet": 0.2}


def smooth_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) sums of Gaussian blobs inside a disc: images an off-grid turn barely blurs."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    img = torch.zeros(n, 3, size, size)
    for _ in range(6):
        colour = torch.rand(n, 3, 1, 1, generator=g)
        cx, cy = (torch.rand(2, n, 1, 1, 1, generator=g) - 0.5)
        img += colour * torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05)
    return img * ((xx ** 2 + yy ** 2) < 0.8).float()


def relaxed_net(downsample: str, crop_px: int | None = 36) -> EquivariantImageNet:
    """The small encoder ("pool" or "stride" downsampling), the deep one ("deep": 36 -> 18 -> 9 -> 5 px, so both
    stride-2 kernels) or EquiDiff's design ("resnet", 76 px crops)."""
    torch.manual_seed(0)
    conv = functools.partial(RelaxedR2Conv, banks=2, alpha=1e-3)
    if downsample == "resnet":
        return EquivariantImageNet(3, SymmetryGroup(8), fields=1, crop_px=76, conv=conv, architecture="resnet")
    if downsample == "deep":
        return EquivariantImageNet(3, SymmetryGroup(8), fields=2, crop_px=crop_px, conv=conv, architecture="deep")
    return EquivariantImageNet(3, SymmetryGroup(8), fields=2, crop_px=crop_px, downsample=downsample, conv=conv)


def element_errors(net: EquivariantImageNet, img: torch.Tensor) -> list[float]:
    """Relative error of the encoder's regular output under each of the 8 rotations h * 45 degrees."""
    with torch.no_grad():
        out = net(img).view(len(img), -1, 8)
        errors = []
        for h in range(8):
            moved = net(rotate_image(img, h * math.pi / 4)).view(len(img), -1, 8)
            errors.append(float((moved - torch.roll(out, h, dims=-1)).norm() / out.norm()))
    return errors


@pytest.mark.parametrize("downsample", ["pool", "stride", "deep", "resnet"])
def test_relaxed_encoder_is_exact_at_init_for_every_element_of_c8_on_the_crop(downsample):
    net = relaxed_net(downsample).eval()
    images = smooth_images(3, 80 if downsample == "resnet" else 40)
    errors = element_errors(net, images)
    assert max(errors[0::2]) < TOL  # identity and the quarter turns: permutations of pixels, exact
    assert max(errors[1::2]) < OFF_GRID_TOL[downsample]  # the odd eighths: interpolated images
    # ... and it is the encoder an exact one would be: a random w breaks the quarter turns by far more
    with torch.no_grad():
        for _, layer in relaxed_convs(net):
            layer.relax_weights.uniform_(0.0, 1.0)
    assert max(element_errors(net, images)[2::2]) > 100 * TOL


def test_relaxation_weights_get_gradient_and_are_the_only_way_to_break_symmetry():
    net = relaxed_net("stride", crop_px=None).train()
    img = torch.rand(4, 3, 32, 32)
    target = torch.randn(4, net.out_type.size)
    loss = (net(img) - target).pow(2).mean()
    loss.backward()
    layers = relaxed_convs(net)
    assert len(layers) == 3
    for _, layer in layers:
        assert layer.relax_weights.grad is not None and layer.relax_weights.grad.abs().sum() > 0
    # train with the relaxation weights frozen: the banks move, the encoder stays exact
    frozen = relaxed_net("stride", crop_px=None).train()
    for _, layer in relaxed_convs(frozen):
        layer.relax_weights.requires_grad_(False)
    opt = torch.optim.SGD([p for p in frozen.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (frozen(img) - target).pow(2).mean().backward()
        opt.step()
    assert max(quarter_turn_errors(frozen.eval().net, img)) < TOL
    # with them free, the same steps break it
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (net(img) - target).pow(2).mean().backward()
        opt.step()
    assert max(quarter_turn_errors(net.eval().net, img)) > 100 * TOL


def test_relaxed_convolution_folds_its_banks_into_the_sum_of_their_responses():
    gs = gspaces.rot2dOnR2(8)
    in_type, out_type = enn.FieldType(gs, 2 * [gs.regular_repr]), enn.FieldType(gs, 3 * [gs.regular_repr])
    torch.manual_seed(1)
    layer = RelaxedR2Conv(in_type, out_type, 3, padding=1, banks=2)
    with torch.no_grad():
        layer.relax_weights.uniform_(0.0, 1.0)
    x = enn.GeometricTensor(torch.randn(2, in_type.size, 10, 10), in_type)
    banks = layer.conv(x).tensor.view(2, 2, 3, 8, 10, 10)  # (batch, bank, field, h, H, W)
    expected = (layer.relax_weights.detach()[None, :, None, :, None, None] * banks).sum(1).reshape(2, -1, 10, 10)
    assert torch.allclose(layer(x).tensor, expected, atol=1e-5)


def test_prior_is_alpha_times_the_squared_spread_of_w_over_the_group():
    gs = gspaces.rot2dOnR2(8)
    layer = RelaxedR2Conv(enn.FieldType(gs, [gs.trivial_repr]), enn.FieldType(gs, [gs.regular_repr]), 3,
                          banks=2, alpha=0.5)
    assert float(layer.penalty().detach()) < 1e-12
    with torch.no_grad():
        layer.relax_weights[1, 2] += 0.8  # row mean moves by 0.1: deviations 0.7 once and -0.1 seven times
    assert float(layer.penalty().detach()) == pytest.approx(0.5 * (0.7 ** 2 + 7 * 0.1 ** 2), rel=1e-5)
    assert layer.filter_relaxation() > 0
    with pytest.raises(ValueError, match="regular output"):
        RelaxedR2Conv(enn.FieldType(gs, [gs.regular_repr]), enn.FieldType(gs, [gs.trivial_repr]), 3)


def _image_policy(family: str, rep: str = "image", size: int = 32, crop: int | None = 28, **options):
    buf = make_push_buffer(3, seed=0)
    meta = buf.shape_meta.to_dict()
    meta["obs"]["agentview_image"] = {"shape": [3, size, size], "type": "rgb", "rep": rep}
    torch.manual_seed(0)
    policy = DiffusionPolicy(ShapeMeta.from_dict(meta), family, group_order=8, image_crop=crop, image_fields=2,
                             **options, **TINY)
    policy.fit_normalizer(buf.load_arrays(["pusher_pos", "puck_pos", "action"]))
    return policy


def test_policy_reports_relaxation_and_equivariance_error_per_layer_and_region():
    policy = _image_policy("relaxed_conv").eval()
    samples = {k: [{"agentview_image": torch.rand(2, 3, 32, 32)} for _ in range(2)] for k in range(3)}
    errors = image_layer_errors(policy, samples)
    assert list(errors) == ["agentview_image.conv1", "agentview_image.conv2", "agentview_image.conv3"]
    assert all(len(v) == 3 and max(v) < TOL for v in errors.values())
    layers = relaxation_weights(policy)
    convs = {k: v for k, v in layers.items() if "images" in k}
    assert len(convs) == 3 and all(v["filter_relaxation"] < 1e-6 for v in convs.values())
    # break the second convolution: the first stays exact, the second and everything after it do not
    with torch.no_grad():
        relaxed_convs(policy)[1][1].relax_weights[0, 1] += 0.3
    errors = image_layer_errors(policy, samples)
    assert max(errors["agentview_image.conv1"]) < TOL
    assert min(errors["agentview_image.conv2"]) > 100 * TOL and min(errors["agentview_image.conv3"]) > 100 * TOL
    assert float(policy.penalty()) > 0  # the policy's regulariser sums the convolutions' priors


def test_relaxed_conv_refuses_images_declared_camera_and_bad_crop_sides():
    with pytest.raises(ValueError, match="agentview_image is declared camera"):
        _image_policy("relaxed_conv", rep="camera")
    with pytest.raises(ValueError, match="multiple of 4"):
        _image_policy("relaxed_conv", crop=30)
    with pytest.raises(ValueError, match="multiple of 4"):
        _image_policy("equi", size=34, crop=None)
    with pytest.raises(ValueError, match="conv_alpha"):
        _image_policy("relaxed_conv", conv_alpha=-1.0)


def test_relaxed_convolution_starts_at_the_exact_convolutions_scale_and_breaks_only_across_elements():
    gs = gspaces.rot2dOnR2(8)
    t_in, t_out = enn.FieldType(gs, 8 * [gs.regular_repr]), enn.FieldType(gs, 8 * [gs.regular_repr])
    torch.manual_seed(0)
    exact = R2Conv(t_in, t_out, 3, padding=1)
    relaxed = RelaxedR2Conv(t_in, t_out, 3, padding=1, banks=2)
    std_exact, std_relaxed = exact.expand_parameters()[0].std(), relaxed.filter_and_bias()[0].std()
    assert abs(float(std_relaxed / std_exact) - 1) < 0.1  # banks * w sum to the exact scale, not 1/sqrt(L) of it
    assert relaxed.evaluate_output_shape((2, t_in.size, 10, 10)) == (2, t_out.size, 10, 10)
    # w that differs between banks but not across group elements keeps the layer exact; across elements it breaks
    x = torch.randn(2, t_in.size, 10, 10)
    net = enn.SequentialModule(relaxed)
    with torch.no_grad():
        relaxed.relax_weights.copy_(torch.tensor([[0.2], [1.3]]).expand(2, 8))
    assert max(quarter_turn_errors(net, x)) < TOL
    with torch.no_grad():
        relaxed.relax_weights[0, 3] += 0.5
    assert max(quarter_turn_errors(net, x)) > 100 * TOL
    relaxed.eval()
    assert not [k for k in relaxed.state_dict() if k.endswith(("filter", "expanded_bias"))]  # no unused caches
