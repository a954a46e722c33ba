"""Written with the code before families had their own options (commit 737afd1): a tiny gated policy checkpoint."""
import json, sys
import numpy as np
import torch
from equidiff_relaxed.policy.lightning_module import DiffusionPolicyModule
from equidiff_relaxed.envs.planar_push import push_shape_meta_dict
out = sys.argv[1]
torch.manual_seed(0)
module = DiffusionPolicyModule(model="gated", horizon=8, n_obs_steps=2, n_action_steps=4, denoiser="mlp",
                               denoiser_width=16, denoiser_depth=1, encoder_fields=2, lift_fields=2,
                               encoder_hidden=16, encoder_dim=8, ddim_steps=2, relative_to="pusher_pos",
                               shape_meta=push_shape_meta_dict(), symmetry_center=[0.0, 0.0],
                               env={"name": "push", "kwargs": {}})
rng = np.random.default_rng(0)
module.policy.fit_normalizer({k: rng.uniform(-0.3, 0.3, (64, 2)) for k in ("pusher_pos", "puck_pos", "goal_pos", "action")})
with torch.no_grad():  # a trained-looking free path and gate, so that the checkpoint's weights matter
    for p in module.policy.parameters():
        if p.requires_grad:
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
torch.save({"state_dict": {f"policy.{k}": v for k, v in module.policy.state_dict().items()},
            "hyper_parameters": dict(module.hparams), "global_step": 0}, f"{out}/tiny_gated.lightning")
policy = module.policy.eval()
g = torch.Generator().manual_seed(7)
obs = {k: torch.rand(3, 2, 2, generator=g) * 0.4 - 0.2 for k in ("pusher_pos", "puck_pos", "goal_pos")}
noise = torch.randn(3, 8, 2, generator=g)
actions = policy.predict_action(obs, noise=noise)
json.dump({"obs": {k: v.tolist() for k, v in obs.items()}, "noise": noise.tolist(), "actions": actions.tolist(),
           "hyper_parameters_have": sorted(k for k in module.hparams if k in ("relax_alpha", "gate_alpha", "local_alpha"))},
          open(f"{out}/expected_actions.json", "w"))
print("ok", sorted(module.hparams)[:5])
