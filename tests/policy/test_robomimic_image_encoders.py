"""The robomimic image recipe's encoders: agentview through a cropped C_N encoder (rep image), eye-in-hand through a
spatial-softmax CNN as invariant features (rep camera_inhand)."""
import math

import pytest
import torch
from escnn import nn as enn

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.data.synthetic import make_push_buffer
from equidiff_relaxed.nn.encoders import EquivariantImageNet, SpatialSoftmax, crop
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.symmetry import rotate_field, rotate_image
from equidiff_relaxed.symmetry.group import SymmetryGroup
from tests.policy.conftest import CENTER, TINY, obs_batch
from tests.policy.test_equivariance import TOL, rel


def test_spatial_softmax_finds_the_peak_in_image_coordinates():
    net = SpatialSoftmax(1, 1)
    with torch.no_grad():
        net.maps.weight.fill_(1.0)
        net.maps.bias.zero_()
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 2, 6] = 50.0  # row 2 (y = -0.5), column 6 (x = +0.5)
    assert torch.allclose(net(x), torch.tensor([[0.5, -0.5]]), atol=1e-4)


def test_crop_is_random_while_training_and_central_otherwise():
    x = torch.arange(84 * 84, dtype=torch.float32).reshape(1, 1, 84, 84)
    g = torch.Generator().manual_seed(0)
    windows = {float(crop(x, (76, 76), True, g)[0, 0, 0, 0]) for _ in range(20)}
    assert len(windows) > 1
    centre = crop(x, (76, 76), False)
    assert centre.shape[-2:] == (76, 76) and float(centre[0, 0, 0, 0]) == 4 * 84 + 4


@pytest.mark.parametrize("downsample", ["pool", "stride"])
def test_cropped_agentview_encoder_is_exact_for_quarter_turns_at_inference(downsample):
    torch.manual_seed(0)
    net = EquivariantImageNet(3, SymmetryGroup(8), fields=2, crop_px=28, downsample=downsample).eval()
    img = torch.rand(2, 3, 32, 32)
    out = net(img).view(2, -1, 8)
    for quarter in (1, 2, 3):
        rotated = net(rotate_image(img, quarter * math.pi / 2)).view(2, -1, 8)
        assert rel(rotated, torch.roll(out, 2 * quarter, dims=-1)) < TOL


def test_strided_encoder_halves_twice_and_pooled_encoder_keeps_its_parameter_names():
    torch.manual_seed(0)
    pooled = EquivariantImageNet(3, SymmetryGroup(8), fields=2, downsample="pool")
    strided = EquivariantImageNet(3, SymmetryGroup(8), fields=2, downsample="stride")
    img = enn.GeometricTensor(torch.rand(1, 3, 32, 32), pooled.in_type)
    assert pooled.net(img).shape[-2:] == strided.net(img).shape[-2:] == (8, 8)
    # checkpoints written before the strided option load into the pooled encoder unchanged
    assert {k.split(".")[1] for k in pooled.state_dict()} == {"0", "3", "6"}
    with pytest.raises(ValueError, match="image_downsample"):
        DiffusionPolicy(ShapeMeta.from_dict(_image_meta()), "equi", image_downsample="strided", **TINY)


def _image_meta() -> dict:
    meta = make_push_buffer(3, seed=0).shape_meta.to_dict()
    meta["obs"]["agentview_image"] = {"shape": [3, 32, 32], "type": "rgb", "rep": "image"}
    return meta


def _robomimic_image_policy(family: str):
    buf = make_push_buffer(3, seed=0)
    meta = buf.shape_meta.to_dict()
    meta["obs"]["agentview_image"] = {"shape": [3, 32, 32], "type": "rgb", "rep": "image"}
    meta["obs"]["robot0_eye_in_hand_image"] = {"shape": [3, 32, 32], "type": "rgb", "rep": "camera_inhand"}
    torch.manual_seed(0)
    policy = DiffusionPolicy(ShapeMeta.from_dict(meta), family, group_order=8, image_crop=28, inhand_keypoints=8,
                             **TINY)
    policy.fit_normalizer(buf.load_arrays(["pusher_pos", "puck_pos", "action"]))
    obs = obs_batch((None, buf.load_arrays(["pusher_pos", "puck_pos"])), 2)
    obs["agentview_image"] = torch.rand(2, 2, 3, 32, 32)
    obs["robot0_eye_in_hand_image"] = torch.rand(2, 2, 3, 32, 32)
    return policy.eval(), obs


@pytest.mark.parametrize("family", ["equi", "relaxed"])
def test_eye_in_hand_is_invariant_and_agentview_turns(family):
    """Rotating the layout by a quarter turn turns agentview's pixels and the low-dim fields; the eye-in-hand image
    stays as it is; the action turns with them. The eye-in-hand image still changes the action."""
    policy, obs = _robomimic_image_policy(family)
    assert policy.meta.camera_keys == ["robot0_eye_in_hand_image"]
    assert policy.meta.inhand_keys == ["robot0_eye_in_hand_image"]
    noise = torch.randn(2, 8, 2)
    act = policy.predict_action(obs, noise=noise)
    for quarter in (1, 2, 3):
        phi = quarter * math.pi / 2
        robs = {k: rotate_field(v, "pos2", phi, CENTER) for k, v in obs.items() if not k.endswith("_image")}
        robs["agentview_image"] = rotate_image(obs["agentview_image"], phi)
        robs["robot0_eye_in_hand_image"] = obs["robot0_eye_in_hand_image"]
        ract = policy.predict_action(robs, noise=rotate_field(noise, "pos2", phi))
        assert rel(ract, rotate_field(act, "pos2", phi, CENTER)) < TOL
    other = dict(obs, robot0_eye_in_hand_image=torch.rand(2, 2, 3, 32, 32))
    assert rel(policy.predict_action(other, noise=noise), act) > 1e-4


def test_plain_family_takes_both_cameras_and_a_crop_larger_than_the_images_is_refused():
    policy, obs = _robomimic_image_policy("plain")
    assert policy.predict_action(obs).shape == (2, 4, 2)  # Ta action steps
    buf = make_push_buffer(3, seed=0)
    meta = buf.shape_meta.to_dict()
    meta["obs"]["agentview_image"] = {"shape": [3, 32, 32], "type": "rgb", "rep": "image"}
    with pytest.raises(ValueError, match="image_crop 40 is larger than agentview_image's 32x32 images"):
        DiffusionPolicy(ShapeMeta.from_dict(meta), "equi", image_crop=40, **TINY)


def test_an_eye_in_hand_camera_with_a_rotating_rep_is_refused():
    meta = {"obs": {"robot0_eye_in_hand_image": {"shape": [3, 32, 32], "type": "rgb", "rep": "image"}},
            "action": {"shape": [2], "rep": "vec2"}}
    from equidiff_relaxed.errors import UserError

    with pytest.raises(UserError, match="eye-in-hand camera moves with the gripper.*declare rep 'camera_inhand'"):
        ShapeMeta.from_dict(meta, source="meta.yaml")
    meta["obs"]["robot0_eye_in_hand_image"]["rep"] = "camera_inhand"
    assert ShapeMeta.from_dict(meta).inhand_keys == ["robot0_eye_in_hand_image"]
