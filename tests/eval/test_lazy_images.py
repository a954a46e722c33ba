"""Evaluation renders only the camera images the policy will look at: an env with ``step_without_images`` skips
the others, and the policy acts exactly as it would with every image rendered."""
import gymnasium as gym
import numpy as np
import torch

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.eval.plan import episode_plan
from equidiff_relaxed.eval.rollouts import rollout
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy

LENGTH = 21  # steps per episode: not a multiple of Ta, so the last chunk is cut short


class WalkWithCamera(gym.Env):
    """A point that walks by its actions, seen by a camera whose pixels encode where it is; counts the images it
    renders and the ones it was allowed to skip."""

    def __init__(self):
        self.rendered = self.skipped = 0

    def _obs(self, images: bool) -> dict[str, np.ndarray]:
        image = np.zeros((8, 8, 3), np.uint8)
        if images:
            self.rendered += 1
            image[..., 0] = np.uint8((self.pos[0] * 100) % 255)
            image[..., 1] = np.uint8((self.pos[1] * 100) % 255)
        else:
            self.skipped += 1
        return {"pos": self.pos.astype(np.float32), "camera_image": image}

    def reset(self, *, seed=None, options=None):
        self.pos, self.t = np.random.default_rng(seed).uniform(-0.2, 0.2, 2), 0
        return self._obs(True), {}

    def step(self, action, images: bool = True):
        self.pos, self.t = self.pos + 0.1 * np.asarray(action, dtype=np.float64), self.t + 1
        return self._obs(images), 0.0, False, self.t >= LENGTH, {}

    def step_without_images(self, action):
        return self.step(action, images=False)


def test_only_the_images_of_each_chunks_window_are_rendered_and_the_actions_do_not_change():
    meta = ShapeMeta.from_dict({"obs": {"pos": {"shape": [2], "rep": "pos2"},
                                        "camera_image": {"shape": [3, 8, 8], "type": "rgb", "rep": "camera"}},
                                "action": {"shape": [2], "rep": "pos2"}})
    torch.manual_seed(0)
    policy = DiffusionPolicy(meta, "plain", horizon=8, n_obs_steps=2, n_action_steps=4, down_dims=(8, 16),
                             encoder_hidden=16, encoder_dim=8, n_groups=4, ddim_steps=2, symmetry_center=(0.0, 0.0))
    rng = np.random.default_rng(0)
    policy.fit_normalizer({"pos": rng.uniform(-1, 1, (64, 2)), "action": rng.uniform(-1, 1, (64, 2))})
    plan = episode_plan(2, 1, seed=0)
    runs = {}
    for lazy in (True, False):
        env = WalkWithCamera()
        actions: list[np.ndarray] = []
        select = policy.select_action

        def spy(obs, *args, **kwargs):
            actions.append(select(obs, *args, **kwargs))
            return actions[-1]

        policy.select_action = spy
        try:
            rollout(policy, lambda env=env: env, plan, n_envs=1, progress=False, lazy_images=lazy)
        finally:
            del policy.select_action
        runs[lazy] = (np.stack(actions), env.rendered, env.skipped)
    (lazy_actions, rendered, skipped), (full_actions, all_rendered, none_skipped) = runs[True], runs[False]
    assert np.array_equal(lazy_actions, full_actions)  # the policy saw the same windows
    assert none_skipped == 0 and all_rendered == 2 * (LENGTH + 1)
    # per episode: the reset image, then of the 4 observations that follow a chunk's actions only the last To = 2
    # (the next chunk's window): observation k (after action k) is skipped when (k - 1) % 4 < 2
    per_episode = sum((k - 1) % 4 < 2 for k in range(1, LENGTH + 1))
    assert skipped == 2 * per_episode and rendered + skipped == all_rendered
