"""Atomic outputs: write under a temporary sibling name, rename onto the final name only when complete.

An interrupted write therefore leaves nothing under the final name, and an existing output is replaced only after
its successor is complete (and only with ``overwrite``). Works for files and directories.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from equidiff_relaxed.errors import UserError


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def check_output_path(path: str | os.PathLike, overwrite: bool, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Refuse an output that exists (without ``overwrite``), is one of ``inputs``, or whose folder is missing."""
    out = Path(path)
    for src in inputs:
        if Path(src).exists() and out.exists() and out.resolve() == Path(src).resolve():
            raise UserError("output is the same as the input; choose another output path", out)
    if out.exists() and not overwrite:
        raise UserError("output exists; pass --overwrite to replace it", out)
    if not out.parent.exists():
        raise UserError("output folder does not exist", out.parent)
    return out


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, on any error delete it."""
    final = check_output_path(path, overwrite)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if not tmp.exists():
        raise RuntimeError(f"atomic_output: nothing was written to {tmp}")
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.is_dir() and not final.is_symlink():
        # A directory cannot be replaced in one step: move the old one aside first, delete it last.
        final.rename(old)
    os.replace(tmp, final)  # for a file this replaces the old one atomically
    _remove(old)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` (replacing it) through a temporary sibling and a rename."""
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(text)
