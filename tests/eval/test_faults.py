"""Evaluation under faults: env errors, crashed workers and NaN states fail one episode; NaN actions stop eval.py.

Worker processes import this module to unpickle ``FaultyEnv``, so its top-level imports stay light (no torch).
"""
import functools
import json
import math
import os
import warnings

import gymnasium as gym
import numpy as np
import pytest

from equidiff_relaxed.envs import make_env
from equidiff_relaxed.eval.plan import episode_plan
from tests.conftest import script_main
from tests.eval.tiny_policy import save_tiny_push_policy

REGIONS, EPISODES = 2, 3
PLAN = episode_plan(REGIONS, EPISODES, seed=0)
FAULT_AT = 2  # the env step at which a faulty episode breaks
MAX_STEPS = 5  # episode length: one policy call (Ta = 6) per episode, and no episode reaches the goal that fast


class FaultyEnv(gym.Wrapper):
    """The push env, broken in the episodes whose reset seed is in ``faults``: ``reset`` raises in reset; at step
    FAULT_AT ``raise`` raises, ``nan`` returns a NaN puck position, ``exit`` kills the process (``os._exit(3)``)."""

    def __init__(self, faults: dict[int, str], name: str = "push", **kwargs):
        super().__init__(make_env(name, **kwargs))
        self.faults, self.kind, self.t = faults, None, 0

    def reset(self, *, seed=None, options=None):
        self.kind, self.t = self.faults.get(seed), 0
        if self.kind == "reset":
            raise RuntimeError("simulated reset failure")
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, term, trunc, info = self.env.step(action)
        self.t += 1
        if self.t == FAULT_AT:
            if self.kind == "raise":
                raise RuntimeError("simulated physics blow-up\n  (a second line that must not be stored)")
            if self.kind == "nan":
                obs = {**obs, "puck_pos": np.full(2, np.nan, dtype=np.float32)}
            if self.kind == "exit":
                os._exit(3)
        return obs, reward, term, trunc, info


def faulty_factory(faults: dict[int, str]):
    """Stands in for ``evaluate.env_factory``: the recorded env, wrapped in FaultyEnv (picklable for workers)."""
    return lambda name, **kwargs: functools.partial(FaultyEnv, faults, name, **kwargs)


def make_checkpoint(path, nan_weights: bool = False) -> str:
    """An untrained plain push policy (Ta = 6) for episodes of MAX_STEPS steps."""
    return save_tiny_push_policy(path, {"max_steps": MAX_STEPS}, n_action_steps=6, nan_weights=nan_weights)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("faults") / "tiny.ckpt")


def run_evaluate(monkeypatch, checkpoint, out, faults: dict[int, str], n_envs: int):
    """evaluate() with the episodes ``{plan index: fault kind}`` broken; returns the payload and results.json entry.
    The equivariance diagnostic (slow, tested in test_evaluate) is stubbed out."""
    from equidiff_relaxed.eval import evaluate as evaluate_module
    from equidiff_relaxed.policy import diagnostics

    monkeypatch.setattr(diagnostics, "equivariance_error", lambda *args: {"abs": math.nan, "rel": math.nan})
    monkeypatch.setattr(evaluate_module, "env_factory", faulty_factory({PLAN[i].reset_seed: k for i, k in faults.items()}))
    payload = evaluate_module.evaluate([checkpoint], out, n_regions=REGIONS, episodes_per_region=EPISODES,
                                       n_envs=n_envs, progress=False)
    return payload, json.loads((out / "results.json").read_text())["checkpoints"][0]


@pytest.fixture(scope="module")
def clean(checkpoint, tmp_path_factory):
    """Episodes of a fault-free evaluation (in this process), to compare the others with."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _, entry = run_evaluate(monkeypatch, checkpoint, tmp_path_factory.mktemp("clean"), {}, n_envs=1)
    return entry["episodes"]


def assert_faults_recorded(entry, clean, expected: dict[int, tuple[str, str]], same_distances: bool = True):
    """Faulty episodes failed with the expected category and reason; all others are as in the clean run."""
    episodes = entry["episodes"]
    assert len(episodes) == len(PLAN)
    for i, (e, c) in enumerate(zip(episodes, clean)):
        if i in expected:
            category, reason = expected[i]
            assert (e["success"], e["failure"]) == (False, category), e
            assert reason in e["failure_reason"] and "\n" not in e["failure_reason"], e
            assert "second line" not in e["failure_reason"]
        else:
            keys = [k for k in c if same_distances or k not in ("final_goal_dist", "min_goal_dist")]
            assert {k: e[k] for k in keys} == {k: c[k] for k in keys}, (e, c)
            assert e["failure_reason"] is None
    for r in entry["regions"]:
        mine = [e for e in episodes if e["region"] == r["region"]]
        assert r["failures"] == {c: sum(e["failure"] == c for e in mine) for c in r["failures"]}
        assert sum(r["failures"].values()) == r["episodes"] - r["successes"] == EPISODES  # none succeeds this fast
    for category in {c for c, _ in expected.values()}:
        assert entry["failures"][category] == sum(c == category for c, _ in expected.values())


def test_env_errors_and_nan_states_fail_their_episode_only(monkeypatch, checkpoint, clean, tmp_path):
    faults = {0: "reset", 1: "raise", 4: "nan"}
    payload, entry = run_evaluate(monkeypatch, checkpoint, tmp_path / "out", faults, n_envs=1)
    assert_faults_recorded(entry, clean, {
        0: ("env_error", "reset raised RuntimeError: simulated reset failure"),
        1: ("env_error", f"step raised RuntimeError: simulated physics blow-up (at step {FAULT_AT})"),
        4: ("nonfinite_state", f"non-finite observation 'puck_pos' after step {FAULT_AT}"),
    })
    episodes = entry["episodes"]
    assert [episodes[i]["steps"] for i in faults] == [0, FAULT_AT - 1, FAULT_AT]
    assert entry["failures"]["env_error"] == 2 and entry["failures"]["nonfinite_state"] == 1
    assert entry["regions"][0]["failures"]["env_error"] == 2 and entry["regions"][1]["failures"]["nonfinite_state"] == 1
    table = payload["failure_table"]
    assert "enverr = env_error" in table and "nonfin = nonfinite_state" in table
    assert table.splitlines()[-1].split()[0] == "all"


@pytest.mark.slow
def test_a_crashed_worker_fails_its_episode_and_is_replaced(monkeypatch, checkpoint, clean, tmp_path):
    # os._exit kills the worker of episode 2 (region 0) mid-episode: episode 3 goes on in the other worker, and
    # episode 4 (next batch) runs in a fresh worker in the dead one's slot
    faults = {2: "exit", 5: "raise"}
    _, entry = run_evaluate(monkeypatch, checkpoint, tmp_path / "out", faults, n_envs=2)
    # two envs batch the policy differently from one (~1e-4 in the actions): outcomes equal, distances close
    assert_faults_recorded(entry, clean, {
        2: ("env_error", f"the env worker process died during step (exit code 3) (at step {FAULT_AT})"),
        5: ("env_error", "step raised RuntimeError: simulated physics blow-up"),
    }, same_distances=False)
    for i in (0, 1, 3, 4):
        for k in ("final_goal_dist", "min_goal_dist"):
            assert abs(entry["episodes"][i][k] - clean[i][k]) < 0.01


def test_nan_actions_stop_the_evaluation_naming_the_checkpoint(tmp_path, capsys):
    from equidiff_relaxed.errors import UserError, run_cli
    from equidiff_relaxed.eval.evaluate import evaluate

    path = make_checkpoint(tmp_path / "diverged.ckpt", nan_weights=True)
    message = f"{path}: the policy produced non-finite actions (episode 0, region 0)"
    with pytest.raises(UserError) as err:
        evaluate([path], tmp_path / "out", n_regions=REGIONS, episodes_per_region=EPISODES, n_envs=1, progress=False)
    assert str(err.value) == message
    main = script_main("eval.py")
    with warnings.catch_warnings():  # eval.py's main silences warnings globally: keep that from leaking
        code = run_cli(main, ["--checkpoint", path, "--regions", "2", "--episodes-per-region", "1", "--n-envs", "1",
                              "--out", str(tmp_path / "cli"), "--quiet"])
    stderr = capsys.readouterr().err
    assert code == 2 and stderr.strip().splitlines() == [f"error: {message}"], stderr

