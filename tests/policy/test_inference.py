"""Acting with a policy, as on a robot: ``reset()`` / ``select_action(obs)`` hold the observation history and the
action queue, give the actions ``predict_action`` gives on the same window and noise, run docs/policy.md's loop over a
gymnasium env without Lightning, and refuse a missing key or a wrong shape with one line naming it."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from equidiff_relaxed.errors import UserError
from tests.conftest import REPO
from tests.policy.conftest import make_policy

MLP = dict(denoiser="mlp", denoiser_width=32, denoiser_depth=1)


def steps(push_data, n: int) -> list[dict[str, np.ndarray]]:
    _, data = push_data
    return [{k: data[k][i].astype(np.float32) for k in ("pusher_pos", "puck_pos")} for i in range(n)]


@pytest.mark.parametrize("family", ["plain", "relaxed"])
def test_select_action_is_predict_action_on_the_history_with_a_queue_of_ta(push_data, family):
    policy = make_policy(push_data, family, **MLP).eval()  # To = 2, Ta = 4
    obs = steps(push_data, 9)
    gen, ref = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    policy.reset()
    got, started = [], []
    for o in obs:
        got.append(policy.select_action(o, generator=gen))
        started.append(policy.chunk_started)
    assert started == [True, False, False, False, True, False, False, False, True]  # one chunk every Ta steps
    assert all(a.shape == (2,) and isinstance(a, np.ndarray) for a in got)
    for start, history in ((0, [obs[0], obs[0]]), (4, [obs[3], obs[4]]), (8, [obs[7], obs[8]])):
        window = {k: torch.tensor(np.stack([h[k] for h in history]))[None] for k in history[0]}
        noise = torch.randn(1, policy.horizon, policy.action_dim, generator=ref)
        chunk = policy.predict_action(window, noise=noise)[0].numpy()  # (Ta, A): the queue of this chunk
        executed = np.stack(got[start:start + 4])
        assert np.array_equal(executed, chunk[: len(executed)])
    policy.reset()  # a new episode starts from its own first observation
    again = policy.select_action(obs[0], generator=torch.Generator().manual_seed(5))
    assert np.array_equal(again, got[0]) and policy.chunk_started


def test_a_batch_of_envs_with_one_generator_per_row(push_data):
    policy = make_policy(push_data, "relaxed", **MLP).eval()
    obs = steps(push_data, 3)
    batch = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
    policy.reset()
    rows = policy.select_action(batch, generator=[torch.Generator().manual_seed(s) for s in (1, 2, 3)])
    assert rows.shape == (3, 2)
    for i, seed in enumerate((1, 2, 3)):
        policy.reset()
        alone = policy.select_action(obs[i], generator=torch.Generator().manual_seed(seed))
        assert np.allclose(rows[i], alone, atol=1e-6)  # each row as if it ran alone


def test_bad_observations_are_one_line_naming_the_key_and_shape(push_data):
    policy = make_policy(push_data, "plain", **MLP).eval()
    good = steps(push_data, 1)[0]
    policy.reset()
    keys = ", ".join(policy.meta.obs)
    with pytest.raises(UserError, match=re.escape(f"the observation has no 'puck_pos' (expected keys: {keys})")):
        policy.select_action({"pusher_pos": good["pusher_pos"]})
    with pytest.raises(UserError, match=re.escape("observation 'puck_pos' has shape (3,), expected (2,) (or (B, 2) for "
                                                  "a batch)")):
        policy.select_action({**good, "puck_pos": np.zeros(3)})
    with pytest.raises(UserError, match=r"observation .p\w+. has (a|no) batch axis, unlike the others"):
        policy.select_action({**good, "puck_pos": good["puck_pos"][None]})
    policy.select_action(good)
    with pytest.raises(UserError, match="call reset\\(\\) first"):
        policy.select_action({k: v[None] for k, v in good.items()})


def test_the_documented_robot_loop_runs_a_policy_folder_without_lightning(tmp_path):
    """docs/policy.md's ten-line loop, as written, on a tiny policy folder in push-pillar."""
    from equidiff_relaxed.policy.pretrained import checkpoint_to_folder
    from tests.eval.tiny_policy import save_tiny_push_policy

    folder = checkpoint_to_folder(save_tiny_push_policy(tmp_path / "tiny.ckpt", {"max_steps": 12}, 4),
                                  tmp_path / "policy")
    text = (REPO / "docs" / "policy.md").read_text()
    section = text[text.index("### Inference: run it on your robot"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    code = code.replace('"runs/demo/oriented/checkpoints/policy"', repr(str(folder)))
    code = code.replace('make_env("push-wall")', 'make_env("push-wall", max_steps=12)')
    code += "import sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')))\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].startswith("success: ") and lines[-1] == "[]", proc.stdout
