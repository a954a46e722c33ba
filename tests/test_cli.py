"""The command-line tools, run as a user runs them."""
import numpy as np
import zarr

from equidiff_relaxed.data.synthetic import write_robomimic_hdf5
from tests.conftest import run_script


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]


def test_convert_then_describe(tmp_path):
    src = tmp_path / "in.hdf5"
    write_robomimic_hdf5(src, [5, 6, 7], [0, 2, 10], masks={"train": [0, 10]})
    out = tmp_path / "out.zarr"
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(out), "--filter-key", "train",
                      "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "2 episodes, 12 steps" in proc.stdout
    proc = run_script("datasets/describe.py", str(out))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "episodes: 2   steps: 12" in text
    row = next(line for line in text.splitlines() if line.startswith("robot0_eef_quat"))
    assert "(12, 4)" in row and "float64" in row and row.rstrip().endswith("quat")
    assert '"name": "Lift"' in text and "symmetry:" in text
    # again without --overwrite: refused, input and output intact
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(out))
    assert_one_line_error(proc, str(out), "output exists")


def test_convert_with_declared_shape_meta(tmp_path, repo):
    src = tmp_path / "in.hdf5"
    write_robomimic_hdf5(src, [5, 6])
    meta = repo / "configs/shape_meta/robomimic_lift_abs.yaml"
    # the example declares 10-D absolute actions; the synthetic file has 7-D delta actions: refused, nothing written
    out = tmp_path / "abs.zarr"
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(out), "--shape-meta", str(meta),
                      "--keys", "robot0_eef_pos,robot0_eef_quat,robot0_gripper_qpos,object", "--quiet")
    assert_one_line_error(proc, "'action' is stored with per-step shape (7,)")
    assert not out.exists()


def test_cli_bad_inputs(tmp_path):
    src = tmp_path / "in.hdf5"
    write_robomimic_hdf5(src, [5, 6])
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(src), "--out", str(tmp_path / "o.zarr"),
                      "--filter-key", "train")
    assert_one_line_error(proc, str(src), "unknown filter key 'train'", "filter keys: none")
    proc = run_script("datasets/convert_robomimic.py", "--hdf5", str(tmp_path / "nope.hdf5"), "--out",
                      str(tmp_path / "o.zarr"))
    assert_one_line_error(proc, "nope.hdf5", "no such file")
    missing = tmp_path / "noends.zarr"
    root = zarr.open_group(str(missing), mode="w")
    root.create_dataset("data/action", data=np.zeros((3, 2)))
    proc = run_script("datasets/describe.py", str(missing))
    assert_one_line_error(proc, str(missing), "missing meta/episode_ends")
    assert not list(tmp_path.glob("o.zarr*"))


def test_eval_reports_a_missing_checkpoint():
    assert_one_line_error(run_script("eval.py", "--checkpoint", "nope.ckpt", "--out", "/tmp/x"), "nope.ckpt",
                          "no such checkpoint")


def test_generate_and_report(tmp_path):
    out = tmp_path / "pp.zarr"
    proc = run_script("datasets/generate.py", "--env", "push-pillar", "--episodes", "16", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "16 episodes" in proc.stdout
    proc = run_script("datasets/expert_report.py", "--env", "push-pillar", "--episodes-per-region", "1",
                      "--dataset", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.strip().startswith("all") for line in lines)
    assert "data symmetry-breaking map of " + str(out) in proc.stdout
    # again without --overwrite: refused
    proc = run_script("datasets/generate.py", "--env", "push", "--episodes", "1", "--out", str(out))
    assert_one_line_error(proc, str(out), "output exists")


def test_generate_and_report_bad_input(tmp_path):
    proc = run_script("datasets/generate.py", "--env", "cube", "--episodes", "1", "--out", str(tmp_path / "x.zarr"))
    assert_one_line_error(proc, "unknown env 'cube'", "push, push-pillar, push-drift")
    proc = run_script("datasets/expert_report.py", "--env", "push", "--regions", "0")
    assert_one_line_error(proc, "--regions must be >= 1")
    proc = run_script("datasets/expert_report.py", "--env", "push", "--dataset", str(tmp_path / "none.zarr"))
    assert_one_line_error(proc, "none.zarr", "no such file")
    for flag, value, message in (("--dart_noise", "-0.01", "--dart_noise must be a finite number >= 0"),
                                 ("--noise", "-1", "--noise must be a finite number >= 0"),
                                 ("--burst_prob", "2", "--burst_prob must be in [0, 1]"),
                                 ("--burst_prob", "nan", "--burst_prob: expected float, got 'nan'")):
        proc = run_script("datasets/generate.py", "--env", "push", "--episodes", "1", "--out",
                          str(tmp_path / "x.zarr"), flag, value)
        assert_one_line_error(proc, message)
    assert not list(tmp_path.iterdir())


def test_a_failed_start_prints_one_line_and_writes_nothing(tmp_path):
    """A real process (Lightning's banner goes straight to the process's stderr): a dataset that does not exist
    stops training with the error line alone, before the run folder is made."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # Python's own warning filters, as a user has
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "--config", "demo", "--data.dataset_path",
                           str(tmp_path / "none.zarr"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'none.zarr'}: no such file or directory"]
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_image_inputs_it_cannot_use(tmp_path):
    """An image key the dataset lacks, a top-down image side the equivariant encoder cannot halve twice, and the
    relaxed image family asked of an image declared camera: one error line each, no run folder."""
    from equidiff_relaxed.data.synthetic import make_push_buffer

    with_images, without = tmp_path / "img.zarr", tmp_path / "low.zarr"
    make_push_buffer(3, seed=0, image_size=18).save(with_images)
    make_push_buffer(3, seed=0).save(without)
    base = ["--config", "configs/push_image.yaml", "--trainer.max_steps", "1"]
    cases = [
        ([str(without), "--data.obs_keys", "[pusher_pos, puck_pos, image]"],
         ["low.zarr", "'image'", "which the dataset does not have"]),
        ([str(with_images), "--model.model", "equi"], ["image's side 18", "multiple of 4"]),
        ([str(with_images), "--model.model", "relaxed_conv", "--data.obs_reps", "{image: camera}"],
         ["relaxed_conv", "image is declared camera"]),
    ]
    for i, (args, fragments) in enumerate(cases):
        proc = run_script("train.py", *base, "--data.dataset_path", *args, "--out", str(tmp_path / f"run{i}"))
        assert_one_line_error(proc, *fragments)
        assert not (tmp_path / f"run{i}").exists()
