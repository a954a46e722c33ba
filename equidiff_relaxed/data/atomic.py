"""Atomic outputs: write under a temporary sibling name, rename onto the final name only when complete.

An interrupted write therefore leaves nothing under the final name, and an existing output is replaced only after
its successor is complete (and only with ``overwrite``). Missing parent folders are created, and removed again if the
write fails. Works for files and directories.
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
    """Refuse an output that exists (without ``overwrite``), is one of ``inputs``, or whose folder cannot be made
    (a parent that is a file). Missing parent folders are fine: :func:`atomic_output` creates them."""
    out = Path(path)
    for src in inputs:
        if Path(src).exists() and out.exists() and out.resolve() == Path(src).resolve():
            raise UserError("output is the same as the input; choose another output path", out)
    if out.exists() and not overwrite:
        raise UserError("output exists; pass --overwrite to replace it", out)
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError("cannot create the output folder: a parent is a file", parent)
    return out


def make_parents(path: Path) -> list[Path]:
    """Create ``path``'s missing parent folders; returns those created, deepest first (for :func:`remove_empty`)."""
    missing = [p for p in path.absolute().parents if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the output folder ({err.strerror})", path.parent) from None
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) where they are empty: what :func:`make_parents` made for a failed write."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, on any error delete it."""
    final = check_output_path(path, overwrite)
    created = make_parents(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        remove_empty(created)
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
