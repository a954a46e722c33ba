"""studies/gated_paths.py: a gated policy's prediction split between its exact and free paths, per region."""
import math

import numpy as np
import pytest
import torch

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.demos.generate import GenerateConfig, generate
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.nn.gated import output_layer
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.policy.pretrained import save_pretrained
from studies.gated_paths import split_per_region
from tests.policy.conftest import TINY

MLP = dict(denoiser="mlp", denoiser_width=32, denoiser_depth=1)


def policy_folder(tmp_path, data, family: str, **kwargs):
    buf = ReplayBuffer.open(data)
    torch.manual_seed(0)
    policy = DiffusionPolicy(buf.shape_meta, family, **{**TINY, **MLP, **kwargs})
    policy.fit_normalizer(buf.load_arrays([*buf.shape_meta.obs, "action"]))
    run = tmp_path / family
    return policy, run


def test_split_is_all_exact_until_the_free_path_speaks_and_refuses_other_families(tmp_path):
    data = tmp_path / "wall.zarr"
    generate(GenerateConfig("push-wall", episodes=10, seed=0), data, progress=False)
    policy, run = policy_folder(tmp_path, data, "gated")
    save_pretrained(policy, run / "policy")
    table = split_per_region(run, data, demos=9)
    assert np.nanmax(table["free_share"]) == 0.0  # its output layer starts at zero
    assert np.allclose(table["exact"], table["all"], equal_nan=True)
    assert all(math.isnan(g) or abs(g - 0.5) < 1e-6 for g in table["gate"])  # the gate's start, everywhere
    with torch.no_grad():
        output_layer(policy.denoiser.free).weight.normal_(0, 0.3)
    save_pretrained(policy, run / "policy")
    table = split_per_region(run, data, demos=9)
    assert np.nanmin(table["free_share"]) > 0 and not np.allclose(table["exact"], table["all"], equal_nan=True)
    plain, plain_run = policy_folder(tmp_path, data, "plain")
    save_pretrained(plain, plain_run / "policy")
    with pytest.raises(UserError, match="not a gated policy"):
        split_per_region(plain_run, data, demos=9)
