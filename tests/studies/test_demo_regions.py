"""studies/demo_regions.py: training demonstrations per orientation region of the sweeps' nested subsets."""
import math

import numpy as np

from equidiff_relaxed.data.split import split_episodes
from equidiff_relaxed.demos.generate import GenerateConfig, generate
from tests.conftest import run_script
from tests.test_cli import assert_one_line_error

from studies.demo_regions import demos_per_region  # noqa: E402


def test_counts_follow_the_split_and_are_nested():
    thetas = np.random.default_rng(3).uniform(0, 2 * math.pi, 60)
    small, large = demos_per_region(thetas, 10, 4), demos_per_region(thetas, 40, 4)
    assert sum(small) == 10 and sum(large) == 40
    assert all(s <= b for s, b in zip(small, large))  # 10 demos are among the 40
    train, _ = split_episodes(60, 0.1, 0, 10)
    assert small == [int(((thetas[train] // (math.pi / 2)) == k).sum()) for k in range(4)]
    assert demos_per_region(np.full(20, 0.1), 5, 4) == [5, 0, 0, 0]


def test_script_writes_the_table_and_refuses_too_many_demos(tmp_path):
    data = tmp_path / "push.zarr"
    generate(GenerateConfig("push", episodes=8, seed=0, max_steps=30), data, progress=False)
    out = tmp_path / "regions.md"
    proc = run_script("studies/demo_regions.py", str(data), "--demos", "3,7", "--regions", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert f"| {data} | 3 |" in text and f"| {data} | 7 |" in text
    bad = run_script("studies/demo_regions.py", str(data), "--demos", "50", "--out", str(tmp_path / "x.md"))
    assert_one_line_error(bad, str(data), "n_demos=50 but only 7 training episodes")
    assert not (tmp_path / "x.md").exists()
