"""Failure analysis: categories on hand-made trajectories, per-region counts and failure videos from eval.py."""
import json
import math

import numpy as np
import pytest

from equidiff_relaxed.envs import make_env
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval.evaluate import evaluate
from equidiff_relaxed.envs.outcomes import UNKNOWN, trace_row
from equidiff_relaxed.envs.push_failures import (NEVER_REACHED_PUCK, PUSH_ANALYSIS, PUSHED_PAST_GOAL, STUCK_AT_PILLAR,
                                                 TIMED_OUT_MOVING, PushScene, SceneGeometry, analyse_episode)
from tests.conftest import run_script
from tests.eval.tiny_policy import save_tiny_push_policy
from tests.test_cli import assert_one_line_error

GEOM = SceneGeometry(puck_radius=0.025, pusher_radius=0.02, success_tolerance=0.025, pillar_radius=0.03)
GOAL = np.array([0.30, 0.0])
PUCK0 = np.array([0.08, 0.0])
TOUCH = GEOM.puck_radius + GEOM.pusher_radius  # centre distance of pusher and puck in contact


def line(a, b, n: int) -> np.ndarray:
    return np.linspace(a, b, n)


def pushed(puck: np.ndarray, approach: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The pusher walks up to the puck from the centre for ``approach`` steps (puck still), then pushes it along
    ``puck`` from behind (on the side away from the centre)."""
    still = np.repeat(puck[:1], approach, axis=0)
    behind = puck - TOUCH * puck[:1] / np.linalg.norm(puck[0])
    walk = line(np.zeros(2), behind[0] - [0.03, 0.0], approach)
    return np.concatenate([walk, behind]), np.concatenate([still, puck])


def test_success_gets_no_category_and_metrics():
    pusher, puck = pushed(line(PUCK0, GOAL - [0.01, 0.0], 10))
    m = analyse_episode(pusher, puck, GOAL, True, GEOM)
    assert m.failure is None
    assert m.steps_to_contact == 3  # the walk (states 0..2) ends 3 cm short of contact; state 3 touches
    assert math.isclose(m.final_goal_dist, 0.01) and math.isclose(m.min_goal_dist, 0.01)


def test_first_contact_is_the_first_touching_state():
    pusher, puck = pushed(line(PUCK0, GOAL, 10), approach=5)
    gaps = np.linalg.norm(pusher - puck, axis=1)
    m = analyse_episode(pusher, puck, GOAL, False, GEOM)
    assert m.steps_to_contact == int(np.flatnonzero(gaps <= TOUCH + 0.002)[0]) == 5
    assert gaps[4] > TOUCH + 0.002


def test_never_reached_puck():
    n = 30
    pusher = line([0.0, 0.0], [-0.2, 0.1], n)  # wanders away from the puck
    puck = np.repeat(PUCK0[None], n, axis=0)
    m = analyse_episode(pusher, puck, GOAL, False, GEOM)
    assert (m.failure, m.steps_to_contact) == (NEVER_REACHED_PUCK, None)
    assert math.isclose(m.final_goal_dist, 0.22) and math.isclose(m.min_goal_dist, 0.22)
    # a puck that moved was touched, even if no sample caught the pusher next to it
    moved = puck.copy()
    moved[10:] += [0.0, 0.01]
    assert analyse_episode(pusher, moved, GOAL, False, GEOM).failure != NEVER_REACHED_PUCK


def test_pushed_past_goal_through_it_between_samples_and_beside_it():
    pusher, puck = pushed(line(PUCK0, [0.40, 0.0], 12))
    m = analyse_episode(pusher, puck, GOAL, False, GEOM)
    assert m.failure == PUSHED_PAST_GOAL and math.isclose(m.final_goal_dist, 0.10)
    # fast: the samples skip over the goal (closest sample 0.1 m away, the path goes through it)
    fast = np.array([PUCK0, [0.20, 0.0], [0.40, 0.0], [0.40, 0.0]])
    m = analyse_episode(fast - [TOUCH, 0.0], fast, GOAL, False, GEOM)
    assert m.failure == PUSHED_PAST_GOAL and math.isclose(m.min_goal_dist, 0.10)
    # overshot 7 cm to the side: the path never came within 2 x tolerance, but it went past the goal
    pusher, puck = pushed(line(PUCK0, [0.36, 0.07], 12))
    assert analyse_episode(pusher, puck, GOAL, False, GEOM).failure == PUSHED_PAST_GOAL
    # came close but stopped short (never farther than its closest approach): not "pushed past"
    pusher, puck = pushed(line(PUCK0, [0.26, 0.0], 12))
    assert analyse_episode(pusher, puck, GOAL, False, GEOM).failure == TIMED_OUT_MOVING


def test_stuck_at_pillar_only_with_a_pillar_and_when_still():
    pillar = np.array([0.20, 0.0])
    against = pillar - [GEOM.puck_radius + GEOM.pillar_radius + 0.005, 0.0]  # 5 mm from touching the pillar
    pusher, puck = pushed(np.concatenate([line(PUCK0, against, 8), np.repeat(against[None], 12, axis=0)]))
    assert analyse_episode(pusher, puck, GOAL, False, GEOM, pillar=pillar).failure == STUCK_AT_PILLAR
    assert analyse_episode(pusher, puck, GOAL, False, GEOM).failure == TIMED_OUT_MOVING  # push env: no pillar
    # still moving towards the pillar over the last steps (3 cm in the last 10): not stuck
    pusher, puck = pushed(line(PUCK0, against, 20))
    assert analyse_episode(pusher, puck, GOAL, False, GEOM, pillar=pillar).failure == TIMED_OUT_MOVING
    # resting 2 cm from the pillar: not at it
    away = against - [0.015, 0.0]
    pusher, puck = pushed(np.concatenate([line(PUCK0, away, 8), np.repeat(away[None], 12, axis=0)]))
    assert analyse_episode(pusher, puck, GOAL, False, GEOM, pillar=pillar).failure == TIMED_OUT_MOVING
    # the pusher jammed against the pillar, the puck deflected and resting 5 cm beside it: stuck
    jammed = pillar - [GEOM.pusher_radius + GEOM.pillar_radius, 0.0]
    puck = np.concatenate([line(PUCK0, [0.16, 0.07], 8), np.repeat([[0.16, 0.07]], 12, axis=0)])
    pusher = np.concatenate([puck[:8] - [TOUCH, 0.0], line(puck[7] - [TOUCH, 0.0], jammed, 12)])
    assert analyse_episode(pusher, puck, GOAL, False, GEOM, pillar=pillar).failure == STUCK_AT_PILLAR
    puck[-5:] += line([0.0, 0.0], [0.0, 0.03], 5)  # ... unless the puck still moves
    assert analyse_episode(pusher, puck, GOAL, False, GEOM, pillar=pillar).failure == TIMED_OUT_MOVING


def test_timed_out_moving():
    pusher, puck = pushed(line(PUCK0, [0.10, 0.15], 20))  # pushed sideways, far from the goal
    m = analyse_episode(pusher, puck, GOAL, False, GEOM)
    assert m.failure == TIMED_OUT_MOVING and m.steps_to_contact is not None


def test_env_info_feeds_the_analysis_and_envs_without_it_are_unknown():
    env = make_env("push-pillar", max_steps=3)
    _, info = env.reset(seed=0, options={"theta": 0.0})
    scene = PUSH_ANALYSIS.scene(info)
    assert isinstance(scene, PushScene)
    assert scene.geom.pillar_radius == env.geom.pillar_radius and np.allclose(scene.pillar, env.geom.pillar_pos)
    keys = PUSH_ANALYSIS.trace_keys
    rows = [trace_row(info, keys)]
    for _ in range(3):
        *_, info = env.step(info["pusher_pos"])  # stay put
        rows.append(trace_row(info, keys))
    env.close()
    metrics, trace = PUSH_ANALYSIS.metrics(scene, rows, False)
    assert metrics.failure == NEVER_REACHED_PUCK and trace["puck_pos"].shape == (4, 2)
    assert trace_row({"theta": 0.0}, keys) is None and PUSH_ANALYSIS.scene({"theta": 0.0}) is None
    assert PUSH_ANALYSIS.metrics(None, [], False)[0].failure == UNKNOWN
    assert PUSH_ANALYSIS.metrics(None, [], True)[0].failure is None


def test_straight_push_into_the_pillar_in_the_env_is_stuck_at_pillar():
    env = make_env("push-pillar", max_steps=30)
    _, info = env.reset(seed=0, options={"theta": env.geom.pillar_angle})  # the pillar lies on the way to the goal
    scene = PUSH_ANALYSIS.scene(info)
    rows, done = [trace_row(info, PUSH_ANALYSIS.trace_keys)], False
    while not done:
        _, _, term, trunc, info = env.step(info["goal_pos"])  # head straight for the goal
        rows.append(trace_row(info, PUSH_ANALYSIS.trace_keys))
        done = term or trunc
    env.close()
    m, _ = PUSH_ANALYSIS.metrics(scene, rows, bool(term))
    assert m.failure == STUCK_AT_PILLAR and m.steps_to_contact == 1 and m.final_goal_dist > 0.1


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    """An untrained plain policy on the push env with a wide success tolerance, so that some episodes succeed at the
    first step (puck starts ~0.22 m from the goal) and the others fail."""
    env_kwargs = {"max_steps": 6, "render_size": 64, "geometry": {"success_tolerance": 0.22}}
    return save_tiny_push_policy(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt", env_kwargs, n_action_steps=4)


@pytest.mark.slow
def test_failure_counts_and_videos_of_failures_only(random_checkpoint, tmp_path):
    out = tmp_path / "out"
    # n_envs=2: envs (and their GL contexts) in fresh processes; in-process rendering fails after the robosuite tests
    payload = evaluate([random_checkpoint], out, n_regions=2, episodes_per_region=5, n_envs=2, video_failures=1,
                       progress=False)
    entry = json.loads((out / "results.json").read_text())["checkpoints"][0]
    episodes = entry["episodes"]
    failed = [e for e in episodes if not e["success"]]
    assert failed and len(failed) < len(episodes)  # the fixture gives both outcomes...
    assert any(sum(e["region"] == k for e in failed) > 1 for k in (0, 1))  # ... and more failures than videos asked
    for e in episodes:
        assert (e["failure"] is None) == e["success"]
        assert e["final_goal_dist"] >= e["min_goal_dist"] >= 0
        assert e["success"] == (e["final_goal_dist"] < 0.22)
    for r in entry["regions"]:
        mine = [e for e in episodes if e["region"] == r["region"]]
        assert sum(r["failures"].values()) == r["episodes"] - r["successes"]
        assert r["failures"] == {c: sum(e["failure"] == c for e in mine) for c in r["failures"]}
    assert entry["failures"] == {c: sum(e["failure"] == c for e in failed) for c in entry["failures"]}
    assert "failed episodes per region" in payload["failure_table"]
    # one video per region that has a failure: its first failed episode (not its first episode), named by category
    expected = set()
    for k in (0, 1):
        first = next((e for e in failed if e["region"] == k), None)
        if first is not None:
            expected.add(f"tiny_region{k}_fail_ep{first['index']:02d}_{first['failure']}.mp4")
    assert {p.name for p in out.glob("*.mp4")} == expected == set(entry["failure_videos"])
    assert all((out / name).stat().st_size > 0 for name in expected)


def test_negative_video_failures_is_a_user_error(random_checkpoint, tmp_path):
    with pytest.raises(UserError, match="--video_failures must be >= 0"):
        evaluate([random_checkpoint], tmp_path / "o", video_failures=-1)
    proc = run_script("eval.py", "--checkpoint", random_checkpoint, "--video-failures", "-2", "--out",
                      str(tmp_path / "o2"))
    assert_one_line_error(proc, "--video_failures must be >= 0, got -2")
