"""studies/reports.py: finds every results folder and the report that rebuilds it."""
from tests.conftest import run_script
from tests.studies.test_alpha_report import write_run


def test_every_results_folder_gets_its_report_command(tmp_path):
    results = tmp_path / "results"
    write_run(results / "regions_fast" / "push", "equi", 10, 0, [1, 1])
    write_run(results / "sample_efficiency" / "push", "equi", 10, 0, [1, 1])
    write_run(results / "relax_alpha" / "push-pillar" / "alpha1e-5", "relaxed", 10, 0, [1, 1])
    write_run(results / "steps_curve" / "push" / "steps1000", "equi", 100, 0, [1, 1], steps=1000)
    write_run(results / "residual_beta" / "push" / "beta1", "residual", 10, 0, [1, 1])
    write_run(results / "breaks" / "push-wall", "equi", 25, 0, [1, 1])
    write_run(results / "robomimic_image" / "lift", "equi", 100, 0, [1, 1], env="robomimic")
    write_run(results / "robomimic_image" / "lift_steps" / "steps500", "equi", 100, 0, [1, 0], steps=500, env="robomimic")
    write_run(results / "robomimic_image" / "lift_stride", "equi", 100, 0, [1, 1], env="robomimic")
    write_run(results / "robomimic_image" / "lift", "relaxed", 100, 0, [1, 1], env="robomimic")
    write_run(results / "robomimic_image" / "lift", "plain", 100, 0, [0, 1], env="robomimic")
    (results / "ablation" / "push-pillar" / "runs" / "full_s0").mkdir(parents=True)
    (results / "ablation" / "push-pillar" / "runs" / "full_s0" / "eval.json").write_text("{}")
    proc = run_script("studies/reports.py", "--results", str(results), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = [line.split("] ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("[")]
    r = str(results)
    assert lines == [
        f"python studies/ablation.py --env push-pillar --out {r}/ablation/push-pillar --report-only",
        f"python studies/regions.py --env push-wall --out {r}/breaks/push-wall --report-only --quiet",
        f"python studies/regions.py --env push --out {r}/regions_fast/push --report-only --quiet",
        f"python studies/regions.py --env push-pillar --out {r}/relax_alpha/push-pillar/alpha1e-5 --report-only "
        "--quiet",
        f"python studies/regions.py --env push --out {r}/residual_beta/push/beta1 --report-only --quiet",
        f"python studies/regions.py --env robomimic --out {r}/robomimic_image/lift --report-only --quiet",
        f"python studies/regions.py --env robomimic --out {r}/robomimic_image/lift_steps/steps500 --report-only "
        "--quiet",
        f"python studies/regions.py --env robomimic --out {r}/robomimic_image/lift_stride --report-only --quiet",
        f"python studies/regions.py --env push --out {r}/sample_efficiency/push --report-only --quiet",
        f"python studies/regions.py --env push --out {r}/steps_curve/push/steps1000 --report-only --quiet",
        f"python studies/alpha_report.py --env push-pillar --alpha-dir {r}/relax_alpha/push-pillar --reference "
        f"{r}/regions_fast/push-pillar,{r}/sample_efficiency/push-pillar",
        f"python studies/alpha_report.py --env push --alpha-dir {r}/residual_beta/push --reference "
        f"{r}/sample_efficiency/push --reference-models equi,residual",
        f"python studies/steps_report.py --env push --out {r}/steps_curve/push --also {r}/regions_fast/push,"
        f"{r}/sample_efficiency/push",
        f"python studies/steps_report.py --env robomimic --out {r}/robomimic_image/lift_steps --demos 100 --seeds 0 "
        f"--also {r}/robomimic_image/lift",
        f"python studies/compare_runs.py {r}/robomimic_image/lift_stride:equi {r}/robomimic_image/lift:plain "
        f"--out {r}/robomimic_image/lift_stride/equi_vs_plain.md",
        f"python studies/compare_runs.py {r}/robomimic_image/lift_stride:equi {r}/robomimic_image/lift:equi "
        f"--out {r}/robomimic_image/lift_stride/equi_vs_pooled.md",
        f"python studies/compare_runs.py {r}/robomimic_image/lift:relaxed {r}/robomimic_image/lift:plain "
        f"--out {r}/robomimic_image/lift/relaxed_vs_plain.md",
        f"python studies/breaks_report.py --results {r}",
        f"python studies/hypotheses.py --results {r}",
    ]


def test_a_failing_report_is_named_in_one_line(tmp_path):
    write_run(tmp_path / "sweep", "equi", 10, 0, [1, 1])
    (tmp_path / "sweep" / "runs" / "equi_n10_s0" / "eval.json").write_text("{not json")
    proc = run_script("studies/reports.py", "--results", str(tmp_path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "unreadable eval.json" in proc.stderr and "equi_n10_s0" in proc.stderr
    # regions.py --report-only on the same folder: the same one line
    proc = run_script("studies/regions.py", "--env", "push", "--out", str(tmp_path / "sweep"), "--report-only")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "unreadable eval.json" in proc.stderr
