"""DART generation: the env executes perturbed actions, the dataset records the expert's clean action."""
import numpy as np
import pytest

from equidiff_relaxed.demos.dart import Perturber
from equidiff_relaxed.envs.perturb import PerturbConfig
from equidiff_relaxed.demos.rollout import run_expert_episode
from equidiff_relaxed.envs import make_env
from equidiff_relaxed.envs.planar_push import make_push_expert
from equidiff_relaxed.errors import UserError

KEYS = ("pusher_pos", "puck_pos", "goal_pos")


def test_labels_are_the_clean_expert_actions_for_the_executed_observations():
    env = make_env("push")
    expert = make_push_expert(env)  # memoryless, no label noise
    cfg = PerturbConfig(noise_std=0.015, burst_prob=0.2, burst_steps=3, burst_scale=0.03)
    ep = run_expert_episode(env, expert, [1, 2], theta=1.0, perturb=cfg)
    clean = run_expert_episode(env, expert, [1, 2], theta=1.0)
    # the perturbation changed what happened (the recorded observations are off the clean path) ...
    assert ep.length != clean.length or not np.allclose(ep.data["pusher_pos"], clean.data["pusher_pos"])
    # ... and every label is what the expert does in the observation actually recorded at that step
    fresh = make_push_expert(env)
    for t in range(ep.length):
        np.testing.assert_allclose(fresh.act({k: ep.data[k][t] for k in KEYS}), ep.data["action"][t], atol=1e-6)
    # executing the labels from the recorded states does not reproduce the next observations: they came from the
    # perturbed actions
    moved = []
    for t in range(ep.length - 1):
        env.set_state(ep.data["states"][t])
        obs, *_ = env.step(ep.data["action"][t])
        moved.append(np.linalg.norm(obs["pusher_pos"] - ep.data["pusher_pos"][t + 1]))
    assert max(moved) > 0.005
    assert ep.recovery_steps > 0


def test_perturber_bursts_and_noise():
    rng = np.random.default_rng(0)
    p = Perturber(PerturbConfig(noise_std=0.0, burst_prob=1.0, burst_steps=2, burst_scale=0.03), rng)
    a = np.zeros(2, dtype=np.float32)
    first, second = p(a), p(a)
    assert np.isclose(np.linalg.norm(first), 0.03) and np.allclose(first, second)  # constant offset in a burst
    assert not PerturbConfig().active


@pytest.mark.parametrize("kwargs, match", [({"noise_std": -0.01}, "--dart_noise"), ({"burst_prob": 1.5}, "--burst_prob"),
                                           ({"burst_steps": 0}, "--burst_steps"),
                                           ({"burst_scale": float("nan")}, "--burst_scale")])
def test_bad_perturbation_values(kwargs, match):
    with pytest.raises(UserError, match=match):
        PerturbConfig(**kwargs).validate()
