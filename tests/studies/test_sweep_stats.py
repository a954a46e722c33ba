"""Sweep statistics: cells aligned by seed and episode, subsets of regions, paired comparisons."""
import pytest

from studies.lib.sweep_stats import (cell_intervals, compare, comparisons_markdown, default_pairs,
                                               intervals_markdown)


def run(model: str, seed: int, wins: dict[int, int], per_region: int = 10) -> dict:
    """A fake eval.json: ``wins[k]`` of ``per_region`` episodes succeed in region k (the first ones)."""
    episodes = [{"region": k, "index": i, "success": i < wins.get(k, 0)} for k in range(4) for i in range(per_region)]
    return {"model": model, "demos": 10, "seed": seed, "episodes": episodes}


RESULTS = [run("equi", s, {0: 10, 1: 10, 2: 2, 3: 10}) for s in (0, 1)] + \
          [run("relaxed", s, {0: 10, 1: 9, 2: 8, 3: 10}) for s in (0, 1)] + [run("relaxed", 2, {0: 10})]


def test_cells_split_into_broken_and_symmetric_regions():
    table = cell_intervals(RESULTS, 4, broken=[2])
    equi = table[("equi", 10)]
    assert equi["all"].value == pytest.approx(32 / 40) and equi["broken"].value == pytest.approx(0.2)
    assert equi["symmetric"].value == 1.0 and equi["symmetric"].lo == 1.0  # no variance: a point interval
    assert table[("relaxed", 10)]["all"].value == pytest.approx((37 * 2 + 10) / 120)  # its 3 seeds


def test_comparison_is_paired_on_shared_seeds_and_episodes():
    found = compare(RESULTS, "relaxed", "equi", 10, 4, broken=[2])
    broken = found["broken"]
    assert (broken.a_only, broken.b_only) == (12, 0)  # seeds 0 and 1 only (equi has no seed 2)
    assert broken.diff.value == pytest.approx(0.6) and broken.p_mcnemar == pytest.approx(2 * 0.5 ** 12)
    assert (found["symmetric"].a_only, found["symmetric"].b_only) == (0, 2)
    assert compare(RESULTS, "relaxed", "plain", 10, 4, broken=[2]) is None
    assert default_pairs(["plain", "equi", "relaxed"]) == [("relaxed", "equi"), ("equi", "plain")]
    assert default_pairs(["plain", "equi", "relaxed", "equi_from_equi", "relaxed_from_equi"]) == [
        ("relaxed", "equi"), ("equi_from_equi", "equi"), ("relaxed_from_equi", "equi"), ("equi", "plain"),
        ("relaxed_from_equi", "relaxed")]  # fine-tuned vs its family from scratch; equi_from_equi only once
    text = comparisons_markdown(RESULTS, 4, [2], [("relaxed", "equi")])
    assert "| relaxed − equi | 10 | 2 | broken | +0.60" in text
    assert "| relaxed | 10 | 3 |" in intervals_markdown(RESULTS, 4, [2], order=lambda m: m)
