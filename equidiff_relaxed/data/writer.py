"""Write a replay buffer atomically, episode by episode, with batched appends and bounded memory.

::

    with BufferWriter("out.zarr", overwrite=False) as w:
        for data, meta in episodes:
            w.add(data, meta)
        w.set_attrs(shape_meta=..., env=..., symmetry=..., source=...)

A directory output is written straight into a temporary sibling directory; a ``.zip`` output is built in memory
(compressed) and written as a zip at the end. Either is renamed onto the final name only when complete.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from equidiff_relaxed.data.atomic import atomic_output
from equidiff_relaxed.data.replay_buffer import ReplayBuffer, is_zip_path

FLUSH_BYTES = 64 << 20  # episodes are held in memory up to this size, then appended together


class BufferWriter:
    """Context manager; see the module docstring."""

    def __init__(self, path: str | os.PathLike, overwrite: bool = False, flush_bytes: int | None = None):
        self.path = Path(path)
        self.overwrite = overwrite
        self.flush_bytes = FLUSH_BYTES if flush_bytes is None else flush_bytes
        self._pending: list[tuple[Mapping[str, np.ndarray], Mapping[str, Any]]] = []
        self._pending_bytes = 0
        self._stack = contextlib.ExitStack()
        self.buffer: ReplayBuffer | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> "BufferWriter":
        self._tmp = self._stack.enter_context(atomic_output(self.path, overwrite=self.overwrite))
        self.buffer = ReplayBuffer.create_empty(None if is_zip_path(self.path) else self._tmp)
        return self

    def add(self, data: Mapping[str, np.ndarray], episode_meta: Mapping[str, Any] | None = None) -> None:
        self._pending.append((data, episode_meta or {}))
        self._pending_bytes += sum(np.asarray(v).nbytes for v in data.values())
        if self._pending_bytes >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        assert self.buffer is not None, "use BufferWriter as a context manager"
        self.buffer.add_episodes(self._pending)
        self._pending, self._pending_bytes = [], 0

    def set_attrs(self, **attrs: Any) -> None:
        assert self.buffer is not None, "use BufferWriter as a context manager"
        self.buffer.set_attrs(**attrs)

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        if exc_type is None:
            try:
                self.flush()
                if is_zip_path(self.path):
                    assert self.buffer is not None and self._tmp is not None
                    self.buffer.write_store(self._tmp, zip_file=True)
            except BaseException as err:  # the final write failed: discard the temporary output, re-raise
                self._stack.__exit__(type(err), err, err.__traceback__)
                raise
        return bool(self._stack.__exit__(exc_type, exc, tb))
