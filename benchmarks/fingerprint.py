"""A numeric fingerprint of training and sampling, to show that a refactor changed no behaviour.

For plain, equi, relaxed and residual (MLP denoiser, relative actions, so2 / cn augmentation) it builds a policy
from a fixed seed on a tiny synthetic push dataset, takes five AdamW steps and samples one 8-step DDIM chunk, and
prints the losses and the chunk's absolute sum. Run it in two checkouts and compare the output byte for byte:

    git worktree add /tmp/old <commit> && (cd /tmp/old && PYTHONPATH=. python /path/to/benchmarks/fingerprint.py) > old.txt
    PYTHONPATH=. python benchmarks/fingerprint.py > new.txt && cmp old.txt new.txt
"""
from __future__ import annotations

import warnings

import torch


def fingerprint() -> list[float]:
    from equidiff_relaxed.data.synthetic import make_push_buffer
    from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy

    buf = make_push_buffer(12, seed=0)
    data = buf.load_arrays(["pusher_pos", "puck_pos", "action"])
    obs = {k: torch.tensor(data[k][:32].reshape(16, 2, 2), dtype=torch.float32) for k in ("pusher_pos", "puck_pos")}
    act = torch.tensor(data["action"][:128].reshape(16, 8, 2), dtype=torch.float32)
    out = []
    for family, aug in (("relaxed", "so2"), ("equi", "cn"), ("plain", None), ("residual", None)):
        torch.manual_seed(0)
        policy = DiffusionPolicy(buf.shape_meta, family, horizon=8, n_obs_steps=2, n_action_steps=4, denoiser="mlp",
                                 denoiser_width=64, denoiser_depth=2, encoder_fields=8, encoder_layers=2,
                                 lift_fields=8, relative_to="pusher_pos", ddim_steps=8, augment=aug,
                                 symmetry_center=(0.0, 0.0))
        policy.fit_normalizer(data)
        opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(1)
        for _ in range(5):
            loss = policy.compute_loss({"obs": obs, "action": act}, g) + policy.penalty()
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(float(loss))
        policy.eval()
        chunk = policy.predict_action(obs, noise=torch.randn(16, 8, 2, generator=torch.Generator().manual_seed(3)))
        out.append(float(chunk.abs().sum()))
    return out


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    print(repr(fingerprint()))
