"""The sample-efficiency study's hypotheses H1-H6, computed from the committed sweep results: per hypothesis the paired differences
(95 % bootstrap intervals over seeds and episodes, McNemar p), whether each holds, and which cells are still missing.

python benchmarks/hypotheses.py [--results benchmarks/results]     # writes <results>/hypotheses.md

Sources: <results>/sample_efficiency/<env> (every family at the shared step budget),
<results>/sample_efficiency_plain30k/<env> (plain at its converged budget, 30000 steps, shown as "plain@30k") and
<results>/regions_lift/lift; H5 is also checked on <results>/regions_lift_stratified/lift (the same task with
region-stratified demos, so region 6 has its share). A claim holds when its point estimates meet the threshold in every required cell;
the intervals say how sure that is. A hypothesis with a missing cell is "incomplete".
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli

N_REGIONS = 8
PLAIN30K = "plain@30k"
MAIN, PLAIN_LONG = "sample_efficiency", "sample_efficiency_plain30k"  # folders under --results


@dataclass(frozen=True)
class Bound:
    """A threshold on a difference: ``kind`` "at_least" (diff ≥ value) or "within" (|diff| ≤ value)."""
    kind: str
    value: float

    def meets(self, diff: float) -> bool:
        return diff >= self.value if self.kind == "at_least" else abs(diff) <= self.value

    def decided(self, lo: float, hi: float) -> bool:
        """True when the whole interval [lo, hi] is on one side of the bound (it meets it, or misses it, for sure)."""
        if self.kind == "at_least":
            return lo >= self.value or hi < self.value
        return (-self.value <= lo and hi <= self.value) or lo > self.value or hi < -self.value


@dataclass
class Check:
    """One required cell of a hypothesis: ``a − b`` over ``regions`` at ``demos`` must satisfy ``test``."""
    label: str
    a: str
    b: str
    demos: int
    regions: list[int]
    test: Bound | None  # None: reported only
    rule: str


def at_least(bound: float) -> Bound:
    return Bound("at_least", bound)


def within(bound: float) -> Bound:
    return Bound("within", bound)


def load(results: Path, env: str, folder: str | None = None) -> list[dict[str, Any]]:
    """The env's runs at the shared budget (in ``folder``, default sample_efficiency, Lift: regions_lift) plus plain
    at its converged budget (relabelled)."""
    from equidiff_relaxed.eval.sweep import finished_runs

    main = results / (folder or (MAIN if env != "lift" else "regions_lift")) / env
    runs = finished_runs(main) if main.is_dir() else []
    long = results / PLAIN_LONG / env
    if long.is_dir():
        runs += [dict(r, model=PLAIN30K) for r in finished_runs(long)]
    return runs


def diff_on(runs: list[dict[str, Any]], a: str, b: str, demos: int, regions: list[int]):
    """Paired a − b over ``regions`` (None if a cell is missing or they share no seed)."""
    from benchmarks.lib.sweep_stats import compare

    found = compare(runs, a, b, demos, N_REGIONS, broken=regions)
    return None if found is None else found["broken"]


def evaluate(name: str, claim: str, runs: list[dict[str, Any]], checks: list[Check],
             some_above_zero: bool = False) -> tuple[list[str], str]:
    """Markdown lines of one hypothesis (a row per check and the verdict) and the verdict itself. A check whose
    ``test`` is None is only reported; ``some_above_zero``: the hypothesis also needs one difference whose interval
    lies above 0."""
    from benchmarks.lib.sweep_stats import format_difference

    lines = [f"### {name}", ""] + ([claim, ""] if claim else [])
    lines += ["| check | demos | regions | a − b (95 % interval) | p (McNemar) | seeds | meets |",
              "|---|---|---|---|---|---|---|"]
    verdicts: list[bool | None] = []
    above_zero = False
    undecided = 0  # checks whose interval straddles their bound
    for c in checks:
        d = diff_on(runs, c.a, c.b, c.demos, c.regions)
        if d is None:
            lines.append(f"| {c.label} | {c.demos} | {_regions(c.regions)} | missing | | | |")
            verdicts.append(None)
            continue
        above_zero |= d.diff.lo > 0
        meets = "–"
        if c.test is not None:
            ok = c.test.meets(d.diff.value)
            verdicts.append(ok)
            meets = f"{'yes' if ok else 'no'} ({c.rule})"
            if not c.test.decided(d.diff.lo, d.diff.hi):
                undecided += 1
                meets += ", interval straddles it"
        lines.append(f"| {c.label} | {c.demos} | {_regions(c.regions)} | {format_difference(d.diff)} | "
                     f"{d.p_mcnemar:.3g} | {_shared_seeds(runs, c.a, c.b, c.demos)} | {meets} |")
    missing, done = verdicts.count(None), [v for v in verdicts if v is not None]
    if all(c.test is None for c in checks):
        verdict = "see the rows" + (f" ({missing} cells missing)" if missing else "")
    elif done and not all(done):
        verdict = f"**does not hold** ({done.count(False)} of {len(verdicts)} checks fail"
        verdict += f"; {missing} missing)" if missing else ")"
    elif not done:
        verdict = "**not measured yet**"
    elif missing:
        verdict = f"**incomplete** ({missing} of {len(verdicts)} cells missing; the rest meet it)"
    elif some_above_zero and not above_zero:
        verdict = "**does not hold**: every check meets its bound, but no difference is above 0 with its interval"
    else:
        verdict = "**holds** (every check meets it" + (", and one difference is above 0)" if some_above_zero else ")")
    if undecided:
        verdict += f"; on point estimates: {undecided} of {len(done)} measured intervals straddle their bound"
    return lines + ["", f"Verdict: {verdict}", ""], verdict


def _regions(regions: list[int]) -> str:
    return "all" if len(regions) == N_REGIONS else ",".join(map(str, regions))


def _shared_seeds(runs: list[dict[str, Any]], a: str, b: str, demos: int) -> int:
    seeds = [{r["seed"] for r in runs if r["model"] == m and r["demos"] == demos} for m in (a, b)]
    return len(seeds[0] & seeds[1])


def hypotheses_markdown(results: Path) -> str:
    """Every hypothesis with its checks and verdict."""
    allr = list(range(N_REGIONS))
    symmetric = [k for k in allr if k not in (1, 2, 3)]
    push, pillar, lift = load(results, "push"), load(results, "push-pillar"), load(results, "lift")
    out = ["# The sample-efficiency study's hypotheses, from the committed results", "",
           "a − b: mean success difference on the same episodes (seeds both have). Every family at the shared step "
           f"budget of `{MAIN}/` (Lift: `regions_lift/`); "
           f"`{PLAIN30K}`: plain at its converged budget (30000 steps). Rebuilt by `python benchmarks/hypotheses.py`.",
           ""]
    h1 = [Check(f"{m} − {p}", m, p, n, allr, at_least(0.15), "≥ +0.15")
          for n in (5, 10) for m in ("equi", "relaxed") for p in (PLAIN30K, "plain")]
    h1 += [Check(f"{a} − {b}", a, b, 100, allr, within(0.05), "within 0.05")
           for a, b in (("equi", PLAIN30K), ("relaxed", PLAIN30K), ("relaxed", "equi"))]
    h2 = [Check("relaxed − equi", "relaxed", "equi", n, [2], at_least(0.15), "≥ +0.15") for n in (25, 50, 100)]
    h3 = [Check(f"relaxed − {b}", "relaxed", b, n, allr, at_least(-0.02), "≥ −0.02")
          for n in (5, 10, 25, 50, 100) for b in ("equi", PLAIN30K)]
    h4 = [Check("relaxed − equi", "relaxed", "equi", n, symmetric, within(0.05), "within 0.05") for n in (5, 10)]
    h5 = [Check("relaxed − equi", "relaxed", "equi", n, [6], at_least(0.2), "≥ +0.2") for n in (25, 100)]
    h6 = [Check(f"{m} − equi", m, "equi", n, regions, None, "")
          for n in (5, 10, 25, 50, 100) for m in ("subgroup", "relaxed")
          for regions in (symmetric, [1, 2])]
    sections = {
        "H1": evaluate("H1 (push): equi and relaxed ≥ plain + 0.15 at 5 and 10 demos; all within 0.05 at 100", "",
                       push, h1),
        "H2": evaluate("H2 (push-pillar, region 2): relaxed ≥ equi + 0.15 at 25 demos and more", "", pillar, h2),
        "H3": evaluate("H3 (push-pillar, mean over regions): relaxed ≥ max(equi, plain) − 0.02 at every demo count, "
                       "strictly better at some", "Strictly better: one difference whose 95 % interval lies above 0.",
                       pillar, h3, some_above_zero=True),
        "H4": evaluate("H4 (push-pillar, symmetric regions 0, 4–7): relaxed within 0.05 of equi at 5 and 10 demos",
                       "", pillar, h4),
        "H5": evaluate("H5 (Lift grasp-360, region 6): relaxed ≥ equi + 0.2", "", lift, h5),
        "H5-stratified": evaluate("H5-stratified (the same on region-stratified demos): relaxed ≥ equi + 0.2",
                                  "`regions_lift_stratified/`: demos generated with `--stratify-regions`, so region 6 "
                                  "has 4 of 25 and 14 of 100 training demos (0 and 3 in `regions_lift/`).",
                                  load(results, "lift", "regions_lift_stratified"), h5),
        "H6": evaluate("H6 (push-pillar): subgroup vs relaxed, each against equi on the symmetric regions (0, 4–7) "
                       "and the broken ones (1, 2)", "Which keeps more of equi's success where the task is symmetric "
                       "and gains more where it is broken: compare the two rows of each demo count.", pillar, h6),
    }
    out += ["| hypothesis | verdict |", "|---|---|"]
    out += [f"| {key} | {verdict} |" for key, (_, verdict) in sections.items()] + [""]
    out += [line for lines, _ in sections.values() for line in lines]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.relpath(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    results = Path(args.results)
    if not results.is_dir():
        raise UserError("not a folder", results)
    from equidiff_relaxed.data.atomic import atomic_write_text

    text = hypotheses_markdown(results)
    atomic_write_text(results / "hypotheses.md", text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
