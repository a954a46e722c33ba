"""Shared fixtures: tiny synthetic datasets built in code."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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


def run_script(script: str, *args: str, cwd: Path = REPO):
    """Run a repository script with the test interpreter; returns CompletedProcess (text)."""
    import subprocess

    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)
