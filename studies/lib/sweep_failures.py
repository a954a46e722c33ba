"""Failure categories of a sweep, per model, demo count and region, summed over seeds (``failures.md``).

Reads the per-region failure counts each run's eval.json carries (``regions[k].failures``, see
:mod:`equidiff_relaxed.envs.push_failures` and :mod:`equidiff_relaxed.envs.robosuite.pick_failures`), so a diagnosis such as "equi
never ends stuck at the pillar" or "the exact model fails at the wrist limit in region 6" is a table, not a script.
"""
from __future__ import annotations

from typing import Any, Callable

from equidiff_relaxed.envs.robosuite.pick_failures import WRIST_MARGIN
from equidiff_relaxed.envs.registry import failure_categories, failure_columns
from equidiff_relaxed.eval.result import EvalResult


def pooled_failures(results: list[dict[str, Any]], n_regions: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (model, demos): ``counts`` (per region, {category: failed episodes} summed over seeds), ``episodes`` per
    region and ``seeds``."""
    table: dict[tuple[str, int], dict[str, Any]] = {}
    for r in results:
        row = table.setdefault((r["model"], r["demos"]), {"counts": [dict() for _ in range(n_regions)],
                                                          "episodes": [0] * n_regions, "seeds": []})
        row["seeds"].append(r["seed"])
        result = EvalResult.from_dict(r)
        for reg, fails in zip(result.regions, result.failures):
            row["episodes"][reg.region] += reg.episodes
            for cat, n in fails.items():
                if n:
                    row["counts"][reg.region][cat] = row["counts"][reg.region].get(cat, 0) + int(n)
    return table


def _cell(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    columns, categories = failure_columns(), failure_categories()
    parts = [f"{columns.get(c, c)} {counts[c]}" for c in categories if counts.get(c)]
    parts += [f"{c} {n}" for c, n in sorted(counts.items()) if c not in categories and n]
    return f"{total}: " + ", ".join(parts)


def failures_markdown(results: list[dict[str, Any]], n_regions: int,
                      order: Callable[[str], Any] = lambda m: m) -> str:
    """One row per model and demo count: failed episodes per region ("total: category count, ...") and in all,
    summed over seeds, with a legend of the short category names that occur."""
    table = pooled_failures(results, n_regions)
    seen = {c for row in table.values() for region in row["counts"] for c, n in region.items() if n}
    columns = failure_columns()
    legend = ", ".join(f"{columns.get(c, c)} = {c}" for c in failure_categories() if c in seen) or "no failures"
    head = "| model | demos | seeds | episodes | " + " | ".join(f"region {k}" for k in range(n_regions)) + " | all |"
    lines = [f"Failed episodes per region, summed over seeds ({legend})", "", head, "|" + "---|" * (n_regions + 5)]
    for (model, demos), row in sorted(table.items(), key=lambda kv: (kv[0][1], order(kv[0][0]))):
        total: dict[str, int] = {}
        for region in row["counts"]:
            for c, n in region.items():
                total[c] = total.get(c, 0) + n
        cells = [_cell(c) for c in row["counts"]]
        lines.append(f"| {model} | {demos} | {len(row['seeds'])} | {sum(row['episodes'])} | " + " | ".join(cells)
                     + f" | **{_cell(total)}** |")
    return "\n".join(lines)


def wrist_limit_markdown(results: list[dict[str, Any]], n_regions: int,
                         order: Callable[[str], Any] = lambda m: m) -> str | None:
    """Pick sweeps: per model, demo count and region, the episodes (successes included) whose wrist came within
    ``WRIST_MARGIN`` of its range's end, as "hits/episodes" summed over seeds; None if no run recorded wrist margins
    (push sweeps, or eval.json files from before the pick analysis)."""
    table: dict[tuple[str, int], list[list[int]]] = {}
    for r in results:
        episodes = [e for e in r.get("episodes", []) if e.get("wrist_margin") is not None]
        if not episodes:
            continue
        row = table.setdefault((r["model"], r["demos"]), [[0, 0] for _ in range(n_regions)])
        for e in episodes:
            row[e["region"]][0] += e["wrist_margin"] <= WRIST_MARGIN
            row[e["region"]][1] += 1
    if not table:
        return None
    head = "| model | demos | " + " | ".join(f"region {k}" for k in range(n_regions)) + " |"
    lines = [f"Episodes whose wrist came within {WRIST_MARGIN} rad of its limit, successes included (hits/episodes, "
             "summed over seeds)", "", head, "|" + "---|" * (n_regions + 2)]
    for (model, demos), row in sorted(table.items(), key=lambda kv: (kv[0][1], order(kv[0][0]))):
        lines.append(f"| {model} | {demos} | " + " | ".join(f"{h}/{n}" for h, n in row) + " |")
    return "\n".join(lines)
