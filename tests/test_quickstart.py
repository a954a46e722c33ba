"""The README's quickstart runs as written, at tiny sizes: from a fresh copy of the repository (every tracked file,
nothing else) with ``python <script>``, and with the console commands from a folder outside any checkout."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# option -> the tiny value the test runs it with (every other word of the commands stays as the README has it)
TINY = {"--episodes": "4", "--workers": "1", "--episodes_per_region": "1", "--trainer.max_steps": "2",
        "--data.n_demos": "3", "--regions": "2", "--n_envs": "1"}
ADDED = {"equidiff-train": ["--trainer.max_steps", "--data.n_demos"], "train.py": ["--trainer.max_steps", "--data.n_demos"],
         "equidiff-eval": ["--regions", "--n_envs"], "eval.py": ["--regions", "--n_envs"]}


def readme_blocks(after: str) -> list[list[str]]:
    """The commands of the first ```bash block after the line that starts with ``after``."""
    text = (REPO / "README.md").read_text()
    start = text.index("\n" + after)
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert block, f"no bash block after {after!r} in README.md"
    return [line.split() for line in block.group(1).splitlines() if line.strip()]


def tiny(command: list[str]) -> list[str]:
    """``command`` with the sizes of :data:`TINY` (replaced where given, added where the README leaves a default)."""
    out = list(command)
    for i, word in enumerate(out[:-1]):
        if word in TINY:
            out[i + 1] = TINY[word]
    program = Path(out[1] if out[0] == "python" else out[0]).name
    for option in ADDED.get(program, []):
        out += [option, TINY[option]]
    return out


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", PATH=f"{Path(sys.executable).parent}{os.pathsep}"
               f"{os.environ.get('PATH', '')}")
    argv = [sys.executable, *command[1:]] if command[0] == "python" else command
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    assert "\r" not in proc.stderr, "without a terminal, progress is printed as lines"
    return proc


def fresh_copy(target: Path) -> Path:
    """Every file git tracks (as in a fresh clone), copied with its current content; symlinks kept."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.split("\0")):
        src, dst = REPO / name, target / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree, not yet committed
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    return target


@pytest.mark.slow
def test_quickstart_runs_as_written_from_a_fresh_clone_and_from_any_folder(tmp_path):
    clone = fresh_copy(tmp_path / "clone")
    commands = readme_blocks("From a clone of this repository")
    assert [c[:2] for c in commands] == [["python", "datasets/generate.py"], ["python", "train.py"],
                                         ["python", "train.py"], ["python", "eval.py"]]
    for command in commands:
        proc = run(tiny(command), clone)
    assert (clone / "runs/demo/eval/results.json").is_file() and "mean" in proc.stdout

    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    commands = readme_blocks("The same with the console commands")
    assert [c[0] for c in commands] == ["equidiff-generate", "equidiff-train", "equidiff-train", "equidiff-eval"]
    for command in commands:
        proc = run(tiny(command), anywhere)
    assert (anywhere / "runs/demo/eval/results.json").is_file() and "mean" in proc.stdout
