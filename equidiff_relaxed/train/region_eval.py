"""A Lightning callback that evaluates the policy per orientation region every N epochs during training.

Logs ``eval/success_region_k`` and ``eval/mean_success`` (so ModelCheckpoint can monitor ``eval/mean_success``;
give it the same ``every_n_epochs``). Uses the EMA weights when an EMA callback is present, and a small paired
episode plan (the same episodes every time).
"""
from __future__ import annotations

import copy

import lightning as L

from equidiff_relaxed.eval.plan import episode_plan
from equidiff_relaxed.eval.result import EvalResult
from equidiff_relaxed.eval.rollouts import env_factory, policy_env_kwargs, rollout


class RegionEvalCallback(L.Callback):
    def __init__(self, every_n_epochs: int = 10, episodes_per_region: int = 4, regions: int = 8, n_envs: int = 1,
                 seed: int = 0, env: str | None = None, ddim_steps: int | None = None):
        super().__init__()
        if every_n_epochs < 1 or episodes_per_region < 1 or regions < 1 or n_envs < 1:
            raise ValueError("every_n_epochs, episodes_per_region, regions and n_envs must be >= 1")
        self.every, self.episodes, self.regions = every_n_epochs, episodes_per_region, regions
        self.n_envs, self.seed, self.env, self.ddim_steps = n_envs, seed, env, ddim_steps

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every:
            return
        policy = copy.deepcopy(pl_module.policy)
        ema = next((c for c in trainer.callbacks if getattr(c, "state_key", None) == "EMA"), None)
        if ema is not None and getattr(ema, "shadow", None):
            policy.load_state_dict(ema.shadow)
        env_name = self.env or (pl_module.hparams.get("env") or {}).get("name")
        if env_name is None:
            raise ValueError("RegionEvalCallback needs env= (the dataset records none)")
        result = rollout(policy, env_factory(env_name, **policy_env_kwargs(policy, self.regions)), episode_plan(self.regions, self.episodes, self.seed),
                         self.n_envs, self.ddim_steps, progress=False)
        found = EvalResult.from_episodes(result.results, self.regions, env_name, model=policy.model_family)
        for row in found.regions:
            pl_module.log(f"eval/success_region_{row.region}", float(row.rate))
        pl_module.log("eval/mean_success", found.mean_success, prog_bar=True)
