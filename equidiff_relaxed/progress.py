"""Progress of long work: a live bar in a terminal, plain lines in a log.

tqdm redraws its bar with carriage returns, which a log file keeps as hundreds of frames. :func:`progress_bar`
returns tqdm only when the stream is a terminal; otherwise a :class:`LineProgress` that prints one line at every
tenth of the work (and at the end), e.g. ``generating push-pillar: 100/200 ep (50%)  4.1 s elapsed, ~4.1 s left``.
Both have ``update(n)``, ``set_postfix(**values)`` and ``close()``.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

LINES = 10  # a LineProgress prints at every tenth of the work


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def format_seconds(seconds: float) -> str:
    """``4.1 s`` under a minute, ``3m05s`` above."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


class LineProgress:
    """Plain-text progress: one line per tenth of ``total`` (see the module docstring)."""

    def __init__(self, total: int, desc: str, unit: str = "it", stream: TextIO | None = None):
        self.total, self.desc, self.unit = max(int(total), 0), desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.n, self._next, self._printed, self._t0 = 0, 1, 0, time.perf_counter()
        self._postfix = ""
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total and self.n * LINES >= self._next * self.total:
            self._next = self.n * LINES // self.total + 1
            self._print()

    def set_postfix(self, **values: Any) -> None:
        self._postfix = "  " + " ".join(f"{k}={v}" for k, v in values.items())

    def _print(self) -> None:
        self._printed = self.n
        elapsed = time.perf_counter() - self._t0
        share = self.n / self.total if self.total else 1.0
        left = f", ~{format_seconds(elapsed / share - elapsed)} left" if 0 < share < 1 else ""
        print(f"{self.desc}: {self.n}/{self.total} {self.unit} ({100 * share:.0f}%)  {format_seconds(elapsed)} "
              f"elapsed{left}{self._postfix}", file=self.stream, flush=True)

    def close(self) -> None:
        if not self._closed and self.n != self._printed:
            self._print()  # stopped between two lines: say where
        self._closed = True


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool = True, stream: TextIO | None = None) -> Any:
    """A tqdm bar on a terminal, a :class:`LineProgress` otherwise, nothing when not ``enabled``."""
    if not enabled:
        return _Silent()
    if is_terminal(stream):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=stream)
    return LineProgress(total, desc, unit, stream)


def track(items: Sequence[T], desc: str, unit: str = "it", enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` with :func:`progress_bar` over them."""
    bar = progress_bar(len(items), desc, unit, enabled)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


__all__ = ["LineProgress", "format_seconds", "is_terminal", "progress_bar", "track"]
