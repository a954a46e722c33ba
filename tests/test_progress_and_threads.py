"""Progress is plain lines without a terminal and a bar in one; every process takes its share of the cores."""
import io
import json
import os
import subprocess
import sys

import pytest

from equidiff_relaxed.progress import LineProgress, progress_bar, track
from equidiff_relaxed.threads import ENV_VAR, threads_for


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_progress_is_ten_lines_and_no_carriage_return():
    out = io.StringIO()
    bar = progress_bar(200, "generating push", "ep", stream=out)
    assert isinstance(bar, LineProgress)
    for _ in range(200):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 10
    assert lines[0].startswith("generating push: 20/200 ep (10%)") and "left" in lines[0]
    assert lines[-1].startswith("generating push: 200/200 ep (100%)") and "left" not in lines[-1]


def test_a_stop_between_two_lines_says_where_and_postfixes_show():
    out = io.StringIO()
    bar = LineProgress(100, "evaluating", "ep", stream=out)
    bar.update(15)
    bar.set_postfix(env_faults=1)
    bar.update(2)
    bar.close()
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("evaluating: 17/100 ep (17%)") and "env_faults=1" in lines[-1]


def test_in_a_terminal_it_is_a_bar_and_disabled_it_is_silent():
    tty = Tty()
    bar = progress_bar(3, "x", stream=tty)
    assert type(bar).__name__ == "tqdm"
    bar.close()
    quiet = io.StringIO()
    assert list(track([1, 2, 3], "x", enabled=False)) == [1, 2, 3]
    silent = progress_bar(3, "x", enabled=False, stream=quiet)
    silent.update(3)
    silent.close()
    assert quiet.getvalue() == ""


def test_threads_are_shared_among_processes_and_overridable(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("equidiff_relaxed.threads.available_cores", lambda: 8)
    assert [threads_for(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads_for(4) == 3  # the user's own setting is kept
    monkeypatch.setenv(ENV_VAR, "2")
    assert threads_for(1) == 2  # EQUIDIFF_THREADS wins
    monkeypatch.setenv(ENV_VAR, "zero")
    from equidiff_relaxed.errors import UserError

    with pytest.raises(UserError, match="EQUIDIFF_THREADS must be an integer >= 1, got 'zero'"):
        threads_for(1)


def test_env_workers_take_their_share_of_the_cores(tmp_path):
    """An evaluation's env worker process runs torch with cores // workers threads (not every core)."""
    code = (
        "import json, os, sys\n"
        "from equidiff_relaxed.eval.envpool import EnvPool\n"
        "from equidiff_relaxed.threads import available_cores\n"
        "import torch\n"
        "def probe():\n"
        "    import torch\n"
        "    class E:\n"
        "        def reset(self, seed=None, options=None): return torch.get_num_threads(), os.environ['OMP_NUM_THREADS']\n"
        "        def close(self): pass\n"
        "    return E()\n"
        "if __name__ == '__main__':\n"
        "    pool = EnvPool(probe, 2, in_process=False)\n"
        "    threads, omp = pool.run({0: ('reset', (0, None))})[0]\n"
        "    print(json.dumps([threads, omp, available_cores()]))\n"
        "    pool.close()\n"
    )
    script = tmp_path / "probe.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", ENV_VAR)}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    threads, omp, cores = json.loads(proc.stdout.strip().splitlines()[-1])
    assert threads == max(1, cores // 2) and omp == str(max(1, cores // 2))
