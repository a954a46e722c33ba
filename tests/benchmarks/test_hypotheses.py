"""benchmarks/hypotheses.py: each hypothesis's paired checks and verdict from a results tree."""
from tests.conftest import run_script
from tests.benchmarks.test_alpha_report import write_run


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
    proc = run_script("benchmarks/hypotheses.py", "--results", str(tmp_path))
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

