"""Failure analysis of pick (Lift) episodes: categories on hand-made trajectories, and the Lift env's info feeding it."""
import math

import numpy as np
import pytest

from equidiff_relaxed.envs.outcomes import UNKNOWN, trace_row
from equidiff_relaxed.envs.robosuite.pick_failures import (DROP_TOL, DROPPED, GRASP_MISSED, LIFTED, LIFTED_TOO_LOW,
                                                 NEVER_REACHED_OBJECT, PICK_ANALYSIS, REACH_TOL, WRIST_AT_LIMIT,
                                                 WRIST_MARGIN, PickGeometry, PickScene, analyse_pick)
from equidiff_relaxed.eval.report import format_failure_table

GEOM = PickGeometry(wrist_limits=(-2.9, 2.9), success_z=0.84)
CUBE0 = np.array([0.1, 0.05, 0.82])  # resting on the table: centre 0.02 m below success_z


def episode(rise: list[float], reach_at: int | None = 5, wrist: float = 0.5, n: int = 30):
    """(grip, obj, wrist) of an episode: the grip site descends onto the cube by step ``reach_at`` (or hovers 10 cm
    above it when None) and then carries it; the cube's rise above the table follows ``rise`` (padded with its last
    value) from step ``reach_at`` on."""
    heights = np.zeros(n)
    if reach_at is not None:
        r = np.asarray(rise + [rise[-1]] * n)[: n - reach_at]
        heights[reach_at:] = r
    obj = np.repeat(CUBE0[None], n, axis=0)
    obj[:, 2] += heights
    grip = obj + [0.0, 0.0, 0.10]
    if reach_at is not None:
        grip[:reach_at] = np.linspace(CUBE0 + [0, 0, 0.2], CUBE0 + [0, 0, 0.05], reach_at)
        grip[reach_at:] = obj[reach_at:]
    return grip, obj, np.full(n, wrist)


def test_a_lifted_cube_is_a_success_with_no_height_lacking():
    m = analyse_pick(*episode([0.005, 0.01, 0.02, 0.03]), True, GEOM)
    assert m.failure is None and m.steps_to_contact == 5
    assert m.final_goal_dist == m.min_goal_dist == 0.0
    assert m.wrist_margin == pytest.approx(2.4)


def test_each_failure_category():
    never = analyse_pick(*episode([0.0], reach_at=None), False, GEOM)
    assert never.failure == NEVER_REACHED_OBJECT and never.steps_to_contact is None
    assert never.final_goal_dist == pytest.approx(0.02)
    assert analyse_pick(*episode([LIFTED / 2]), False, GEOM).failure == GRASP_MISSED
    dropped = analyse_pick(*episode([0.005, 0.015, 0.015, 0.0]), False, GEOM)
    assert dropped.failure == DROPPED
    assert dropped.min_goal_dist == pytest.approx(0.005) and dropped.final_goal_dist == pytest.approx(0.02)
    assert analyse_pick(*episode([0.015, 0.015 - DROP_TOL / 2]), False, GEOM).failure == LIFTED_TOO_LOW


def test_the_wrist_limit_is_reported_first_from_either_end():
    for wrist in (2.9 - WRIST_MARGIN / 2, -2.9 + WRIST_MARGIN / 2, 2.95):
        assert analyse_pick(*episode([0.0], reach_at=None, wrist=wrist), False, GEOM).failure == WRIST_AT_LIMIT
    grip, obj, wrist = episode([0.005, 0.015, 0.015, 0.0])  # a drop ...
    wrist[3] = 2.9 - WRIST_MARGIN / 2                        # ... with the wrist at its limit on the way in
    m = analyse_pick(grip, obj, wrist, False, GEOM)
    assert m.failure == WRIST_AT_LIMIT and m.wrist_margin == pytest.approx(WRIST_MARGIN / 2)
    assert analyse_pick(grip, obj, wrist, True, GEOM).failure is None  # a success gets no category anyway
    wrist[3] = 2.9 - 2 * WRIST_MARGIN
    assert analyse_pick(grip, obj, wrist, False, GEOM).failure == DROPPED


def test_contact_is_the_first_step_within_reach():
    grip, obj, wrist = episode([0.0], reach_at=None)
    grip[7] = obj[7] + [REACH_TOL * 0.9, 0.0, 0.0]
    assert analyse_pick(grip, obj, wrist, False, GEOM).steps_to_contact == 7


def test_bad_shapes_are_refused():
    grip, obj, wrist = episode([0.0])
    with pytest.raises(ValueError, match="grip must have shape"):
        analyse_pick(grip[:-1], obj, wrist, False, GEOM)
    with pytest.raises(ValueError, match="wrist must have shape"):
        analyse_pick(grip, obj, wrist[:, None], False, GEOM)
    with pytest.raises(ValueError, match="obj must have shape"):
        analyse_pick(grip, obj[:, :2], wrist, False, GEOM)


def test_the_failure_table_shows_the_pick_columns_for_pick_failures():
    counts = [[{WRIST_AT_LIMIT: 2, UNKNOWN: 0}, {}]]
    table = format_failure_table(["lift"], counts)
    assert "wrist = wrist_at_limit" in table and "drop = dropped" in table
    assert "pillar" not in table and "unknown" not in table
    header = table.splitlines()[2].split()  # every column label stands apart, 7-letter ones too
    assert header[:3] == ["fail", "wrist", "noreach"] and "nograsp" in header
    assert "pillar = stuck_at_pillar" in format_failure_table(["push"], [[{"stuck_at_pillar": 1}]])


def test_lift_info_feeds_the_analysis_and_the_wrist_limit_shows_in_region_6():
    """Grasping with a yaw that follows theta (grasp symmetry 360) at 290 deg drives the wrist past its limit and the
    episode fails there; with the cube's 90-degree symmetry the same layout is lifted."""
    pytest.importorskip("robosuite")
    from equidiff_relaxed.envs import make_env, make_expert

    env = make_env("lift", max_steps=80)
    try:
        found = {}
        for symmetry in (360.0, 90.0):
            expert = make_expert("lift", env, 0.0, symmetry_deg=symmetry)
            obs, info = env.reset(seed=11, options={"theta": math.radians(290)})
            expert.reset(np.random.default_rng(0))
            scene = PICK_ANALYSIS.scene(info)
            assert isinstance(scene, PickScene) and scene.geom.success_z == pytest.approx(0.84)
            rows, done = [trace_row(info, PICK_ANALYSIS.trace_keys)], False
            while not done:
                obs, _, term, trunc, info = env.step(expert.act(obs))
                rows.append(trace_row(info, PICK_ANALYSIS.trace_keys))
                done = term or trunc
            found[symmetry] = PICK_ANALYSIS.metrics(scene, rows, bool(term))[0]
    finally:
        env.close()
    assert found[360.0].failure == WRIST_AT_LIMIT and found[360.0].wrist_margin <= WRIST_MARGIN
    assert found[90.0].failure is None and found[90.0].min_goal_dist == 0.0 and found[90.0].wrist_margin > 1.0


def test_table_columns_name_the_run_folder_of_a_train_checkpoint():
    from equidiff_relaxed.eval.report import run_name

    assert run_name("runs/demo/equi/checkpoints/last.ckpt") == "runs/demo/equi"
    assert run_name("runs/demo/equi/checkpoints/policy") == "runs/demo/equi"
    assert run_name("elsewhere/model.ckpt") == "elsewhere/model.ckpt"
    assert run_name("checkpoints/last.ckpt") == "checkpoints/last.ckpt"  # no run folder above it
