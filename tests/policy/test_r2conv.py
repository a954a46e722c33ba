"""The library's R2Conv: escnn's initial weights from a per-field-pair He initialisation, filters built outside
autocast so that the equivariant policies train under bfloat16 mixed precision, and the EquiDiff-scale GPU recipe
taking a few steps on a CPU at batch 2."""
import json
import sys
import warnings

import pytest
import torch

from equidiff_relaxed._escnn import enn, gspaces
from equidiff_relaxed.nn.r2conv import R2Conv


@pytest.mark.parametrize("fields_in,fields_out,kernel,stride,bias,trivial_in", [
    (3, 4, 5, 1, True, True), (2, 5, 4, 2, True, False), (3, 2, 3, 1, True, False), (2, 3, 1, 1, False, False)])
def test_fast_he_initialisation_draws_escnns_weights(fields_in, fields_out, kernel, stride, bias, trivial_in):
    gs = gspaces.rot2dOnR2(8)
    rin = gs.trivial_repr if trivial_in else gs.regular_repr
    t_in, t_out = enn.FieldType(gs, fields_in * [rin]), enn.FieldType(gs, fields_out * [gs.regular_repr])
    torch.manual_seed(3)
    ref = enn.R2Conv(t_in, t_out, kernel, stride=stride, bias=bias)
    torch.manual_seed(3)
    ours = R2Conv(t_in, t_out, kernel, stride=stride, bias=bias)
    assert torch.equal(ref.weights, ours.weights)
    torch.manual_seed(3)
    ref = enn.R2Conv(t_in, t_out, kernel, stride=stride, bias=bias)
    after_ref = torch.randn(4)
    torch.manual_seed(3)
    R2Conv(t_in, t_out, kernel, stride=stride, bias=bias)
    assert torch.equal(after_ref, torch.randn(4))  # the same number of random draws


@pytest.mark.parametrize("family", ["equi", "relaxed", "relaxed_conv"])
def test_equivariant_image_policies_train_under_bfloat16_autocast(family):
    sys.path.insert(0, ".")
    from benchmarks.speed import RECIPES, batch, build

    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    policy, meta = build(RECIPES / "robomimic_image.yaml", family, True, "cpu", {"image_downsample": "stride"},
                         "robomimic")
    data = batch(meta, 2, "cpu", policy.horizon)
    policy.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = policy.compute_loss(data)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in policy.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.slow
def test_the_gpu_recipe_takes_steps_on_a_cpu_at_batch_2(tmp_path):
    from equidiff_relaxed.data.synthetic import write_robomimic_hdf5
    from tests.conftest import run_script

    write_robomimic_hdf5(tmp_path / "a.hdf5", [20, 20], image_size=84)
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(tmp_path / "a.hdf5"), "--out",
                      str(tmp_path / "a.zarr"))
    assert proc.returncode == 0, proc.stderr
    proc = run_script("train.py", "--config", "configs/robomimic_image_gpu.yaml", "--data.dataset_path",
                      str(tmp_path / "a.zarr"), "--data.obs_keys",
                      "[agentview_image, robot0_eef_pos, robot0_eef_quat, robot0_gripper_qpos]",
                      "--data.obs_reps", "{agentview_image: image}", "--data.batch_size", "2",
                      "--trainer.max_steps", "2", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "train step 2/2" in proc.stderr + proc.stdout
    config = json.loads((tmp_path / "run" / "checkpoints" / "policy" / "config.json").read_text())
    assert config["policy"]["image_encoder"] == "resnet" and config["policy"]["image_fields"] == 16


def test_fast_initialisation_tells_groups_of_the_same_order_apart():
    """C8 and D4 both have order 8 and a representation named "regular": their variances must not be shared."""
    for gs in (gspaces.rot2dOnR2(8), gspaces.flipRot2dOnR2(4)):
        t = enn.FieldType(gs, 2 * [gs.regular_repr])
        torch.manual_seed(5)
        ref = enn.R2Conv(t, t, 3)
        torch.manual_seed(5)
        assert torch.equal(ref.weights, R2Conv(t, t, 3).weights), gs
