"""Torch threads per process, so that the processes of one command never ask for more threads than there are cores.

torch starts every process with one intra-op thread per core. A command that runs several processes (evaluation's
env workers, generation workers, a sweep's two queue workers) then oversubscribes the machine, and the threads'
spinning costs far more than it gains on the small networks of this package. Every command calls
:func:`configure_threads` with the number of processes that compute at once, and every worker process calls
:func:`worker_threads` when it starts, so that ``processes x threads <= cores``.

Override: ``EQUIDIFF_THREADS=N`` gives every process N threads; an ``OMP_NUM_THREADS`` set by the user is kept as it
is (the queue scripts and the test suite set it to 1).
"""
from __future__ import annotations

import os

ENV_VAR = "EQUIDIFF_THREADS"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _positive(name: str, value: str) -> int | None:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        from equidiff_relaxed.errors import UserError

        raise UserError(f"{name} must be an integer >= 1, got {value!r}")
    return n


def threads_for(processes: int = 1) -> int:
    """Threads each of ``processes`` concurrent processes should use: ``EQUIDIFF_THREADS``, else a user's
    ``OMP_NUM_THREADS``, else ``max(1, cores // processes)``."""
    for name in (ENV_VAR, "OMP_NUM_THREADS"):
        value = os.environ.get(name)
        if value:
            return int(_positive(name, value))  # type: ignore[arg-type]
    return max(1, available_cores() // max(1, processes))


def configure_threads(processes: int = 1) -> int:
    """Set torch's intra-op threads of this process to :func:`threads_for` (``processes``); returns the number."""
    import torch

    n = threads_for(processes)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def worker_threads(workers: int) -> None:
    """Called first in each of ``workers`` worker processes: its share of the cores, for torch (if it is or will be
    imported: ``OMP_NUM_THREADS`` is set for a later import) and for the OpenMP / MKL code of other libraries."""
    import sys

    n = threads_for(workers)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


__all__ = ["ENV_VAR", "available_cores", "configure_threads", "threads_for", "worker_threads"]
