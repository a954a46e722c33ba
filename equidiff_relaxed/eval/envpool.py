"""A pool of envs for evaluation that isolates faults: one env per slot, in this process or in its own worker.

Unlike a gymnasium vector env, each slot is driven on its own (``run`` sends every request, then collects every
reply, so worker slots step in parallel), and a slot whose env raises, or whose worker process dies, reports an
:class:`EnvFault` for that slot only; the pool marks the slot broken and :meth:`EnvPool.revive` replaces it with a
fresh env. Errors while *creating* an env are not faults (a wrong env name or option is the user's): they propagate.

Worker processes are started with ``spawn`` and import only this module (light: no torch) plus ``env_fn``'s module.
They ignore SIGINT (the parent handles Ctrl-C and terminates them) and are daemons, so they never outlive it. Each
takes its share of the cores (:func:`equidiff_relaxed.threads.worker_threads`) before making its env.
"""
from __future__ import annotations

import multiprocessing as mp
import signal
from typing import Any, Callable

from equidiff_relaxed.threads import worker_threads

MESSAGE_LIMIT = 300  # characters kept of an exception's message


class EnvFault(Exception):
    """An env raised, or its worker process died; the message is one line (stored per episode)."""


def one_line(err: BaseException) -> str:
    """``Type: first line of the message`` (at most MESSAGE_LIMIT characters)."""
    text = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
    text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def _call(env: Any, cmd: str, args: tuple) -> Any:
    if cmd == "reset":
        seed, options = args
        return env.reset(seed=seed, options=options)
    if cmd == "step":
        return env.step(*args)
    if cmd == "step_without_images":  # the policy will not look at this step's images: envs that can skip them do
        step = getattr(env, "step_without_images", None)  # (not through wrappers: they would be bypassed)
        return step(*args) if step is not None else env.step(*args)
    if cmd == "render":
        return env.render()
    raise ValueError(f"unknown env command {cmd!r}")


def _worker(conn: Any, env_fn: Callable[[], Any], workers: int) -> None:
    """Worker process (one of ``workers``): make the env, then answer (cmd, args) requests with ("ok", result) or
    ("error", text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker_threads(workers)
    try:
        env = env_fn()
    except Exception as err:  # reported to the parent, which raises it
        try:
            conn.send(("error", err))
        except Exception:
            conn.send(("error", RuntimeError(one_line(err))))
        return
    conn.send(("ok", None))
    try:
        while True:
            try:
                cmd, args = conn.recv()
            except EOFError:
                break
            if cmd == "close":
                break
            try:
                reply = ("ok", _call(env, cmd, args))
                conn.send(reply)
            except Exception as err:
                conn.send(("error", f"{cmd} raised {one_line(err)}"))
    finally:
        try:
            env.close()
        except Exception:
            pass


class _InlineSlot:
    """An env in this process (``n_envs = 1``): requests run at once, the reply is kept for ``receive``."""

    def __init__(self, env_fn: Callable[[], Any]):
        self.env = env_fn()
        self._reply: tuple[bool, Any] = (True, None)

    def send(self, cmd: str, args: tuple) -> None:
        try:
            self._reply = (True, _call(self.env, cmd, args))
        except Exception as err:
            self._reply = (False, f"{cmd} raised {one_line(err)}")

    def receive(self) -> Any:
        ok, value = self._reply
        self._reply = (True, None)
        if not ok:
            raise EnvFault(value)
        return value

    def close(self) -> None:
        try:
            self.env.close()
        except Exception:
            pass


class _WorkerSlot:
    """An env in its own process, talked to over a pipe."""

    def __init__(self, env_fn: Callable[[], Any], workers: int = 1):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, env_fn, workers), daemon=True)
        self.process.start()
        child.close()  # only the worker holds its end: the pipe reports EOF when the worker dies
        self._cmd = "start"
        self._lost: str | None = None

    def wait_ready(self) -> None:
        """Wait for the worker to make its env; re-raise the error it reports if it could not."""
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.close()
            raise RuntimeError(f"the env worker process died while making the env ({self._exit()})") from None
        if status != "ok":
            self.close()
            raise value

    def _exit(self) -> str:
        self.process.join(timeout=2.0)
        code = self.process.exitcode
        if code is None:
            return "no exit code"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def send(self, cmd: str, args: tuple) -> None:
        self._cmd = cmd
        try:
            self.conn.send((cmd, args))
        except (BrokenPipeError, EOFError, OSError):
            self._lost = f"the env worker process died before {cmd} ({self._exit()})"

    def receive(self) -> Any:
        if self._lost is not None:
            raise EnvFault(self._lost)
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            raise EnvFault(f"the env worker process died during {self._cmd} ({self._exit()})") from None
        if status != "ok":
            raise EnvFault(value)
        return value

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("close", ()))
            except (BrokenPipeError, EOFError, OSError):
                pass
            self.process.join(timeout=2.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2.0)
        self.conn.close()


class EnvPool:
    """``n`` envs made by ``env_fn``: in this process when ``in_process``, otherwise one worker process each."""

    def __init__(self, env_fn: Callable[[], Any], n: int, in_process: bool):
        if n < 1:
            raise ValueError(f"an env pool needs at least one env, got {n}")
        self.env_fn, self.in_process = env_fn, in_process
        self.slots: list[_InlineSlot | _WorkerSlot | None] = [None] * n
        self.replaced = 0  # envs made again after a fault
        try:
            self._make(list(range(n)))
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self.slots)

    def _make(self, indices: list[int]) -> None:
        if self.in_process:
            for i in indices:
                self.slots[i] = _InlineSlot(self.env_fn)
            return
        for i in indices:
            self.slots[i] = _WorkerSlot(self.env_fn, len(self.slots))
        for i in indices:
            self.slots[i].wait_ready()  # type: ignore[union-attr]

    def revive(self) -> int:
        """Make a fresh env in every broken slot; returns how many."""
        broken = [i for i, s in enumerate(self.slots) if s is None]
        self._make(broken)
        self.replaced += len(broken)
        return len(broken)

    def run(self, requests: dict[int, tuple[str, tuple]]) -> dict[int, Any]:
        """Send ``{slot: (cmd, args)}`` to all slots, then collect; a slot's reply is its result or an EnvFault.

        Commands: ``("reset", (seed, options))``, ``("step", (action,))``, ``("render", ())``. A faulted slot is
        closed and left broken until :meth:`revive`.
        """
        for i, (cmd, args) in requests.items():
            slot = self.slots[i]
            if slot is None:
                raise RuntimeError(f"env slot {i} is broken; call revive() first")
            slot.send(cmd, args)
        replies: dict[int, Any] = {}
        for i in requests:
            slot = self.slots[i]
            try:
                replies[i] = slot.receive()  # type: ignore[union-attr]
            except EnvFault as fault:
                replies[i] = fault
                slot.close()  # type: ignore[union-attr]
                self.slots[i] = None
        return replies

    def close(self) -> None:
        for i, slot in enumerate(self.slots):
            if slot is not None:
                slot.close()
                self.slots[i] = None
