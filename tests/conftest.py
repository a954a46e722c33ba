"""Shared fixtures: tiny synthetic datasets built in code."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# One torch thread per test process: the tiny models of the tests gain nothing from intra-op threads, and `make test`
# runs one pytest worker per core (pytest-xdist), whose threads would otherwise compete. Subprocesses inherit it.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_configure(config):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _one_thread_again():
    """A command run in-process may set torch's threads (benchmarks/speed.py takes 2): later tests in the same worker
    would then compute with another thread count than their subprocesses (different float sums)."""
    yield
    import torch

    if torch.get_num_threads() != int(os.environ.get("OMP_NUM_THREADS", "1")):
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def push_buffer():
    from equidiff_relaxed.data.synthetic import make_push_buffer

    return make_push_buffer(n_episodes=6, lengths=[5, 9, 12, 3, 20, 7], seed=1, image_size=8)


@pytest.fixture(scope="session")
def push_data():
    """A tiny synthetic push buffer and its low-dim arrays (for policy tests)."""
    from equidiff_relaxed.data.synthetic import make_push_buffer

    buf = make_push_buffer(4, seed=0)
    return buf, buf.load_arrays(["pusher_pos", "puck_pos", "action"])


def script_main(script: str):
    """The ``main(argv)`` a repository script runs: its own, or that of the console command it wraps."""
    import runpy

    if script not in _MAINS:
        found = runpy.run_path(str(REPO / script), run_name="_script_under_test")
        main = found.get("main")
        if main is None:  # a thin wrapper: ``console`` of an equidiff_relaxed.cli module
            main = sys.modules[found["console"].__module__].main
        _MAINS[script] = main
    return _MAINS[script]


_MAINS: dict = {}


def run_script(script: str, *args: str, cwd: Path = REPO):
    """Run a repository script's ``main(argv)`` in this process, as its command line would (user errors as one
    ``error:`` line and exit status 2, via ``run_cli``), in ``cwd``, with stdout and stderr captured; returns a
    CompletedProcess (text). A crash propagates as the exception (there is no traceback to look for)."""
    import contextlib
    import io
    import subprocess
    import warnings

    from equidiff_relaxed.errors import run_cli

    main = script_main(script)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.chdir(cwd)
        try:
            code = run_cli(main, list(args))
        except SystemExit as stop:  # argparse's own errors and --help
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
        finally:
            os.chdir(here)
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())


def run_subprocess(script: str, *args: str, cwd: Path = REPO, env: dict | None = None):
    """Run a repository script in a fresh interpreter (for the few smoke tests of real process start-up)."""
    import subprocess

    full_env = dict(os.environ, PYTHONWARNINGS="ignore", **(env or {}))
    return subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=300)


def pytest_collection_modifyitems(config, items):
    """Mark tests that need the [robosuite] extra (the module or the test asks for robosuite) as ``robosuite``, so
    ``make test-fast`` (``-m "not slow and not robosuite"``) can leave them out."""
    import inspect

    sources: dict = {}
    for item in items:
        module = item.module
        if module not in sources:
            sources[module] = inspect.getsource(module)
        text = sources[module]
        module_level = 'pytest.importorskip("robosuite")\n' in text.split("\ndef ", 1)[0]
        try:
            own = 'importorskip("robosuite")' in inspect.getsource(item.function)
        except (OSError, TypeError):
            own = False
        if module_level or own:
            item.add_marker(pytest.mark.robosuite)
