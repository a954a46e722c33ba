"""studies/hypotheses.py: each hypothesis's paired checks and verdict from a results tree."""
from tests.conftest import run_script
from tests.studies.test_alpha_report import write_run


def test_verdicts_follow_the_paired_differences(tmp_path):
    pillar = tmp_path / "sample_efficiency" / "push-pillar"
    for seed in (0, 1):
        for demos in (25, 50, 100):  # H2: relaxed wins region 2 by 0.4 everywhere
            write_run(pillar, "equi", demos, seed, [10, 10, 5, 10, 10, 10, 10, 10])
            write_run(pillar, "relaxed", demos, seed, [10, 10, 9, 10, 10, 10, 10, 10])
        for demos in (5, 10):  # H4: relaxed loses 0.2 in the symmetric regions
            write_run(pillar, "equi", demos, seed, [10] * 8)
            write_run(pillar, "relaxed", demos, seed, [8, 10, 10, 10, 8, 8, 8, 8])
        for demos in (25, 100):  # H5: relaxed +0.3 in region 6 on 20 paired episodes: meets +0.2, but not surely
            write_run(tmp_path / "regions_lift" / "lift", "equi", demos, seed, [10, 10, 10, 10, 10, 10, 4, 10])
            write_run(tmp_path / "regions_lift" / "lift", "relaxed", demos, seed, [10, 10, 10, 10, 10, 10, 7, 10])
    stratified = tmp_path / "regions_lift_stratified" / "lift"  # H5 on other data: relaxed loses region 6 at 100
    write_run(stratified, "equi", 100, 0, [10, 10, 10, 10, 10, 10, 9, 10])
    write_run(stratified, "relaxed", 100, 0, [10, 10, 10, 10, 10, 10, 6, 10])
    proc = run_script("studies/hypotheses.py", "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "hypotheses.md").read_text()
    sections = {s.split("\n", 1)[0].split(" ")[0]: s for s in text.split("### ")[1:]}
    assert "| relaxed − equi | 25 | 2 | +0.40 (" in sections["H2"]
    assert "Verdict: **holds** (every check meets it)\n" in sections["H2"]  # and each interval clears +0.15
    assert "| relaxed − equi | 5 | 0,4,5,6,7 | -0.20 (" in sections["H4"] and "**does not hold** (2 of 2" in sections["H4"]
    assert "**not measured yet**" in sections["H1"]
    assert "| relaxed − equi | 25 | 6 | +0.30 (" in sections["H5"]
    assert "yes (≥ +0.2), interval straddles it |" in sections["H5"]
    assert "**holds** (every check meets it); on point estimates: 2 of 2 measured intervals straddle" in sections["H5"]
    assert "| relaxed − equi | 100 | 6 | -0.30 (" in sections["H5-stratified"]
    assert "| relaxed − equi | 25 | 6 | missing |" in sections["H5-stratified"]
    assert "**does not hold** (1 of 2 checks fail; 1 missing)" in sections["H5-stratified"]
    # H3: relaxed meets equi at 25-100 demos but not at 5, 10 (-0.125 over all regions); plain is missing
    assert "**does not hold** (2 of 10 checks fail; 5 missing)" in sections["H3"]
    # the summary table at the top repeats each verdict
    summary = text.split("### ")[0]
    assert "| H2 | **holds** (" in summary and "| H5 | **holds** (" in summary
    assert "| H5-stratified | **does not hold** (" in summary
    assert "| H3 | **does not hold** (2 of 10 checks fail; 5 missing) |" in summary



def _edit(path, **fields):
    import json

    path.write_text(json.dumps(dict(json.loads(path.read_text()), **fields)))


def test_break_verdicts_pick_the_best_non_exact_family_and_read_its_gate(tmp_path):
    wall, plain30k = tmp_path / "breaks" / "push-wall", tmp_path / "breaks_plain30k" / "push-wall"
    ratios = {"data.zarr": [{"ratio": r} for r in (0.3, 1.1, 1.3, 0.9, 0.2, 0.4, 0.2, 0.4)]}
    for seed in (0, 1):
        write_run(wall, "equi", 25, seed, [10, 10, 2, 10, 10, 10, 10, 10])
        write_run(wall, "gated", 25, seed, [10, 10, 8, 10, 10, 10, 10, 10],
                  [0.03, 0.11, 0.13, 0.09, 0.01, 0.04, 0.02, 0.05])
        write_run(wall, "cause_equi", 25, seed, [5] * 8)  # non-exact but worse: not the one picked
        write_run(plain30k, "plain", 25, seed, [6] * 8)
        write_run(tmp_path / "breaks_gated30k" / "push-wall", "gated", 25, seed, [10] * 8)
        write_run(tmp_path / "breaks_equi30k" / "push-wall", "equi", 25, seed, [10, 10, 2, 10, 10, 10, 10, 9])
        write_run(tmp_path / "breaks_dial" / "strength0", "equi", 10, seed, [10] * 8)
        write_run(tmp_path / "breaks_dial" / "strength0", "gated", 10, seed, [8] * 8)  # costs 0.2 without a wall
        write_run(tmp_path / "breaks_gate_alpha1e-1" / "strength0", "gated", 10, seed, [9] * 8)  # a stronger gate
        write_run(tmp_path / "breaks_lift" / "lift", "equi", 25, seed, [10] * 6 + [4, 10])
        write_run(tmp_path / "breaks_lift" / "lift", "gated", 25, seed, [10] * 6 + [9, 10])
        run = wall / "runs" / f"gated_n25_s{seed}" / "eval.json"
        _edit(run, data_symmetry_map=ratios, gate_per_region=[0.01, 0.05, 0.07, 0.01, 0.0, 0.01, 0.0, 0.02])
    for run in wall.glob("runs/*/eval.json"):  # as eval.py writes it
        import json

        episodes = json.loads(run.read_text())["episodes"]
        _edit(run, mean_success=sum(e["success"] for e in episodes) / len(episodes), data_symmetry_map=ratios)
    proc = run_script("studies/hypotheses.py", "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    sections = {s.split("\n", 1)[0].split(" ")[0]: s for s in (tmp_path / "hypotheses.md").read_text().split("### ")}
    assert "best non-exact family at 25 demos: **gated**" in sections["H7"]
    assert "| gated − plain@30k | 25 | 2 | +0.20 (" in sections["H7"]  # 0.8 vs 0.6 in the broken region
    assert "| gated − equi | 25 | 0,4,5,6,7 | +0.00 (" in sections["H7"]
    assert "gated@30k" not in sections["H7"]  # the shared budget only; the converged one has its own verdict
    assert "| gated@30k − plain@30k | 25 | 2 | +0.40 (" in sections["H7-converged"]
    assert "| gated@30k − equi@30k | 25 | 0,4,5,6,7 | +0.02 (" in sections["H7-converged"]  # equi at 30000 steps too
    assert "Verdict: **holds**" in sections["H7-converged"]  # 1.0 vs 0.6 broken, 1.0 vs 1.0 symmetric
    assert "| gated | mean gate | 0.010 | 0.050 | 0.070 |" in sections["H8"]
    assert "Verdict: **holds** (ρ = +0.9" in sections["H8"]  # the error ranks like the data's break ratio
    assert "| gated − equi | 10 | all | -0.20 (" in sections["H9"]
    assert "| gated(gate_alpha=1e-1) − equi | 10 | all | -0.10 (" in sections["H9"]  # reported beside
    assert "| gated(gate_alpha=1e-1) − equi | 25 | all | missing |" in sections["H9"]
    assert "**does not hold** (1 of 2 checks fail; 1 missing)" in sections["H9"]  # a report-only row is no check
    assert "| gated − equi | 25 | 6 | +0.50 (" in sections["H5b"]


def test_promise_cells_replace_older_runs_of_the_same_family_and_demo_count(tmp_path):
    wall, promise = tmp_path / "breaks" / "push-wall", tmp_path / "promise" / "push-wall"
    for seed in (0, 1):
        write_run(wall, "canonical", 25, seed, [10, 10, 0, 10, 10, 10, 10, 10])  # older code: exact in regions 0, 4-7
        write_run(promise, "canonical", 25, seed, [8, 10, 0, 10, 8, 8, 8, 8])  # re-run: 0.8 there
        write_run(promise, "oriented", 25, seed, [9, 10, 5, 10, 9, 9, 9, 9])
        write_run(wall, "equi", 25, seed, [7, 7, 2, 7, 7, 7, 7, 7])
    proc = run_script("studies/hypotheses.py", "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    h10 = (tmp_path / "hypotheses.md").read_text().split("### H10")[1].split("### ")[0]
    # against the re-run canonical (+0.10), not the older one (-0.10); and it is still the best exact family
    assert "| oriented − canonical | 25 | 0,4,5,6,7 | +0.10 (" in h10
    assert "| oriented − equi | 25 | 2 | +0.30 (" in h10
