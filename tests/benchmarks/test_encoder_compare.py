"""benchmarks/encoder_compare.py: its EquiDiff-style reference encoder is exact for quarter turns and pools to one
pixel, the MAC count follows the convolutions' shapes, and the results file holds every encoder with its ratios."""
import json

import torch

from benchmarks import encoder_compare as ec
from equidiff_relaxed.nn.encoders import EquivariantImageNet
from equidiff_relaxed.symmetry.group import SymmetryGroup


def test_equidiff_style_encoder_is_exact_and_pools_to_one_pixel():
    torch.manual_seed(0)
    model = ec.EquiDiffStyleEncoder(n_out=16)
    x = torch.rand(2, 3, ec.SIDE, ec.SIDE)
    assert model.eval()(x).shape == (2, 16 * ec.ORDER)
    assert ec.quarter_turn_error(model, x) < 1e-4


def test_macs_follow_the_convolution_shapes():
    net = EquivariantImageNet(3, SymmetryGroup(8), fields=1, downsample="stride")
    # 4x4 stride 2 on 76 px -> 38 x 38 x 8 from 3 inputs; 4x4 stride 2 -> 19 x 19 x 16 from 8; 3x3 -> 19 x 19 x 16
    expected = 38 * 38 * 8 * 3 * 16 + 19 * 19 * 16 * 8 * 16 + 19 * 19 * 16 * 16 * 9
    assert ec.macs_per_image(net, torch.rand(1, 3, 76, 76)) == expected


def test_writes_every_encoder_with_ratios(tmp_path):
    out = tmp_path / "enc.json"
    assert ec.main(["--batch", "1", "--threads", "1", "--equidiff_width", "16", "--no_profile", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["encoders"]
    assert set(rows) == {"ours_pool", "ours_stride", "equidiff"}
    assert rows["ours_pool"]["train_time_vs_ours_pool"] == 1.0
    assert rows["ours_stride"]["macs_vs_ours_pool"] < 1 < rows["equidiff"]["parameters"] / rows["ours_pool"]["parameters"]
    assert all(r["quarter_turn_error"] < 1e-4 for r in rows.values())


def test_the_profile_times_the_recipe_policy_and_its_agentview_encoder():
    share = ec.encoder_share("stride", batch=2)
    assert share["train_step_ms"] > share["agentview_encoder_ms"] > 0 and 0 < share["encoder_share"] < 1


def test_capacity_table_counts_the_recipes_encoders(tmp_path):
    out = tmp_path / "cap.json"
    assert ec.main(["--capacity", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["encoders"]
    # relaxed convolutions double the parameters (two banks, plus w: 2 x 8 per convolution, three convolutions) at
    # the same compute (one folded filter)
    assert rows["relaxed_conv image_fields 8"]["parameters"] == 2 * rows["equi image_fields 8"]["parameters"] + 3 * 16
    assert rows["relaxed_conv image_fields 8"]["gmacs_per_image"] == rows["equi image_fields 8"]["gmacs_per_image"]
    assert rows["plain image_width 64"]["parameters"] > rows["plain image_width 32"]["parameters"]
