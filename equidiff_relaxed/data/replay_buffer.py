"""Zarr replay buffer in the diffusion_policy / EquiDiff layout.

Layout (a zarr group, as a directory or a ``.zarr.zip``)::

    data/<key>            (T, ...) arrays concatenated over all episodes, time first; images uint8 (T, H, W, C)
    meta/episode_ends     (E,) int64 cumulative end indices, strictly increasing, last == T
    meta/episode_<field>  (E,) optional per-episode values (e.g. episode_theta, episode_seed)
    .zattrs               shape_meta, env, symmetry, source, format_version (all optional for reading)

A buffer opens lazily (arrays read from disk on demand) or copied into memory; episodes are appended one at a time.
Arrays are chunked along time only (about 64 KiB per chunk for low-dim data, 16 frames for images) and compressed
with Blosc/zstd.
"""
from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr

from equidiff_relaxed.data.atomic import atomic_output
from equidiff_relaxed.data.integrity import require_intact_chunks
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.errors import UserError

FORMAT_VERSION = 1
LOW_DIM_CHUNK_BYTES = 1 << 16
IMAGE_CHUNK_FRAMES = 16
COMPRESSOR = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)


def default_time_chunk(step_shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Chunk length along time: 16 frames for images (ndim >= 2 per step), ~64 KiB for low-dim arrays."""
    if len(step_shape) >= 2:
        return IMAGE_CHUNK_FRAMES
    step_bytes = max(1, int(np.prod(step_shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    return max(1, LOW_DIM_CHUNK_BYTES // step_bytes)


def first_nonfinite_step(arr: np.ndarray) -> int | None:
    """Index along time of the first NaN/inf in a (T, ...) float array, or None when all values are finite."""
    bad = ~np.isfinite(arr)
    return int(np.argwhere(bad)[0, 0]) if bad.any() else None


def is_zip_path(path: str | os.PathLike) -> bool:
    return str(path).endswith(".zip")


def check_episode_ends(ends: np.ndarray, lengths: Mapping[str, int], source: str | None) -> np.ndarray:
    """Validate ``meta/episode_ends`` against the data array lengths; return it as int64."""
    if ends.ndim != 1 or not np.issubdtype(ends.dtype, np.integer):
        raise UserError(f"meta/episode_ends must be a 1-D integer array, got shape {ends.shape} {ends.dtype}", source)
    ends = ends.astype(np.int64)
    if len(ends) and (ends[0] <= 0 or np.any(np.diff(ends) <= 0)):
        bad = 0 if ends[0] <= 0 else int(np.argmax(np.diff(ends) <= 0)) + 1
        raise UserError(f"meta/episode_ends is not strictly increasing from > 0 (entry {bad} = {ends[bad]})", source)
    total = int(ends[-1]) if len(ends) else 0
    for key, n in lengths.items():
        if n != total:
            raise UserError(
                f"data/{key} has {n} steps but meta/episode_ends ends at {total}; the file is inconsistent", source
            )
    return ends


class ReplayBuffer:
    """Episodes of time-aligned arrays in a zarr group (see module docstring for the layout)."""

    def __init__(self, root: zarr.Group, path: str | None = None, store: Any = None):
        self.root = root
        self.path = path
        self._store = store  # kept to close a ZipStore
        self._ends_cache: np.ndarray | None = None

    # ---------------------------------------------------------------- creation / opening
    @classmethod
    def create_empty(cls, directory: str | os.PathLike | None = None) -> "ReplayBuffer":
        """A new empty buffer: in memory (save it with :meth:`save`), or written straight into ``directory``.

        Writing into a directory suits data larger than memory; pass a temporary name from
        :func:`~equidiff_relaxed.data.atomic.atomic_output` so an interrupted run leaves nothing behind.
        """
        store = zarr.MemoryStore() if directory is None else zarr.DirectoryStore(str(directory))
        root = zarr.group(store=store, overwrite=directory is not None)
        root.require_group("data")
        meta = root.require_group("meta")
        meta.zeros("episode_ends", shape=(0,), dtype=np.int64, chunks=(1 << 16,), compressor=None)
        root.attrs["format_version"] = FORMAT_VERSION
        return cls(root, path=None if directory is None else str(directory))

    @classmethod
    def open(cls, path: str | os.PathLike, in_memory: bool = False, mode: str = "r", check_chunks: bool = False,
             validate: bool = True) -> "ReplayBuffer":
        """Open a directory or ``.zarr.zip`` buffer, lazily or copied into memory, and validate its structure.

        ``mode='r'`` (default) never writes to ``path``; ``mode='a'`` (directory stores only) allows appending.
        ``check_chunks=True`` first runs the cheap chunk check of :mod:`equidiff_relaxed.data.integrity` (every chunk
        present, stored sizes consistent) and raises a UserError naming the first damaged chunk. ``validate=False``
        skips the structure check, for tools that inspect a possibly damaged buffer first (call :meth:`validate`).
        """
        src = str(path)
        if not os.path.exists(src):
            raise UserError("no such file or directory", src)
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' or 'a', got {mode!r}")
        store: Any
        try:
            if is_zip_path(src):
                if mode != "r":
                    raise UserError("a .zip buffer is read-only; copy it to a directory to append", src)
                store = zarr.ZipStore(src, mode="r")
            else:
                store = zarr.DirectoryStore(src)
            if in_memory:
                mem = zarr.MemoryStore()
                zarr.copy_store(store, mem)
                if is_zip_path(src):
                    store.close()
                store = mem
            root = zarr.open_group(store=store, mode=mode if not in_memory else "a")
        except zipfile.BadZipFile as err:
            raise UserError(f"corrupt or truncated zip ({err}); write it again or use the .zarr folder", src) from None
        except (zarr.errors.GroupNotFoundError, zarr.errors.ContainsArrayError):
            raise UserError("not a zarr replay buffer (no zarr group here)", src) from None
        except (ValueError, KeyError, OSError) as err:
            raise UserError(f"cannot read zarr store: {err}", src) from None
        buf = cls(root, path=src, store=store if is_zip_path(src) and not in_memory else None)
        try:
            if check_chunks:
                with buf.reading("the replay buffer's metadata"):
                    require_intact_chunks(root, src)
            if validate:
                buf.validate()
        except BaseException:
            buf.close()
            raise
        return buf

    def close(self) -> None:
        if self._store is not None and hasattr(self._store, "close"):
            self._store.close()
            self._store = None

    def __enter__(self) -> "ReplayBuffer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[None]:
        """Turn a decoding failure of the store (bad JSON, corrupt chunk) into a one-line UserError."""
        try:
            yield
        except (ValueError, RuntimeError, KeyError, TypeError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise UserError(f"corrupt or unreadable zarr data in {what} ({detail})", self.path) from None

    # ---------------------------------------------------------------- structure
    def validate(self) -> None:
        """Check the layout: data and meta groups, episode_ends consistent with every data array."""
        with self.reading("the replay buffer's metadata"):
            self._validate()

    def _validate(self) -> None:
        if "data" not in self.root or not isinstance(self.root["data"], zarr.Group):
            raise UserError("missing the 'data' group of a replay buffer", self.path)
        if "meta" not in self.root or "episode_ends" not in self.root["meta"]:
            raise UserError("missing meta/episode_ends", self.path)
        lengths = {k: int(a.shape[0]) for k, a in self.data.arrays()}
        ends = check_episode_ends(np.asarray(self.root["meta"]["episode_ends"][:]), lengths, self.path)
        for name, arr in self.root["meta"].arrays():
            if name != "episode_ends" and arr.shape[0] != len(ends):
                raise UserError(f"meta/{name} has {arr.shape[0]} entries for {len(ends)} episodes", self.path)
        self.shape_meta  # parses the root attrs and any shape_meta in them
        self._ends_cache = ends

    @property
    def data(self) -> zarr.Group:
        return self.root["data"]

    @property
    def meta(self) -> zarr.Group:
        return self.root["meta"]

    @property
    def episode_ends(self) -> np.ndarray:
        """(E,) int64 cumulative end indices."""
        if self._ends_cache is None:
            self._ends_cache = np.asarray(self.meta["episode_ends"][:], dtype=np.int64)
        return self._ends_cache

    @property
    def episode_lengths(self) -> np.ndarray:
        return np.diff(self.episode_ends, prepend=0)

    @property
    def n_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def n_steps(self) -> int:
        return int(self.episode_ends[-1]) if self.n_episodes else 0

    @property
    def keys(self) -> list[str]:
        return sorted(self.data.array_keys())

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.root.attrs)

    @property
    def shape_meta(self) -> ShapeMeta | None:
        """shape_meta from the root attrs, or None for a plain diffusion_policy / EquiDiff zarr."""
        d = self.root.attrs.get("shape_meta")
        return None if d is None else ShapeMeta.from_dict(d, source=self.path)

    def step_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-step stored shape of each data array."""
        return {k: tuple(a.shape[1:]) for k, a in self.data.arrays()}

    def require_keys(self, keys: Iterable[str]) -> None:
        """Raise one clear line when a requested key is absent, listing the keys that exist."""
        missing = [k for k in keys if k not in self.data]
        if missing:
            raise UserError(f"no key {missing[0]!r} in data (keys: {', '.join(self.keys) or 'none'})", self.path)

    def episode_slice(self, i: int) -> slice:
        if not -self.n_episodes <= i < self.n_episodes:
            raise IndexError(f"episode {i} out of range ({self.n_episodes} episodes)")
        i %= self.n_episodes
        start = int(self.episode_ends[i - 1]) if i > 0 else 0
        return slice(start, int(self.episode_ends[i]))

    def get_episode(self, i: int, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Arrays of episode ``i`` for ``keys`` (default: all data keys)."""
        sl = self.episode_slice(i)
        keys = self.keys if keys is None else list(keys)
        self.require_keys(keys)
        out = {}
        for k in keys:
            with self.reading(f"data/{k}"):
                out[k] = self.data[k][sl]
        return out

    def episode_meta(self, field: str) -> np.ndarray:
        """Per-episode values ``meta/episode_<field>``."""
        name = f"episode_{field}"
        if name not in self.meta:
            have = [k[len("episode_"):] for k in self.meta.array_keys() if k != "episode_ends"]
            raise UserError(f"no meta/{name} (per-episode fields: {', '.join(have) or 'none'})", self.path)
        return self.meta[name][:]

    def load_arrays(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Whole arrays for ``keys`` as numpy (decompressed into memory)."""
        keys = list(keys)
        self.require_keys(keys)
        out = {}
        for k in keys:
            with self.reading(f"data/{k}"):
                out[k] = self.data[k][:]
        return out

    # ---------------------------------------------------------------- writing
    def add_episode(
        self,
        data: Mapping[str, np.ndarray],
        episode_meta: Mapping[str, Any] | None = None,
        chunks: Mapping[str, int] | None = None,
    ) -> None:
        """Append one episode: ``data`` maps key -> (L, ...) array, the same keys as earlier episodes.

        ``episode_meta`` maps field -> one value (number or string), stored in ``meta/episode_<field>``.
        Data are written first and ``episode_ends`` last, so readers never see a partial episode as complete.
        """
        self.add_episodes([(data, episode_meta or {})], chunks)

    def add_episodes(
        self,
        episodes: Sequence[tuple[Mapping[str, np.ndarray], Mapping[str, Any]]],
        chunks: Mapping[str, int] | None = None,
    ) -> None:
        """Append several (data, episode_meta) episodes with one write per array (much faster than one by one)."""
        if not episodes:
            return
        keys = set(episodes[0][0])
        fields = set(episodes[0][1])
        lengths = []
        for data, meta in episodes:
            if not data or set(data) != keys:
                raise ValueError(f"episode keys {sorted(data)} differ from the others' {sorted(keys)}")
            if set(meta) != fields:
                raise ValueError(f"episode meta fields {sorted(meta)} differ from the others' {sorted(fields)}")
            n = {k: len(v) for k, v in data.items()}
            if min(n.values()) < 1 or len(set(n.values())) != 1:
                raise ValueError(f"episode arrays must share a length >= 1, got {n}")
            lengths.append(next(iter(n.values())))
        existing = set(self.data.array_keys())
        if self.n_episodes and existing != keys:
            raise ValueError(f"episode keys {sorted(keys)} differ from the buffer's {sorted(existing)}")
        meta_fields = {k[len("episode_"):] for k in self.meta.array_keys() if k != "episode_ends"}
        if self.n_episodes and meta_fields != fields:
            raise ValueError(f"episode meta fields {sorted(fields)} differ from the buffer's {sorted(meta_fields)}")

        for key in episodes[0][0]:
            value = np.concatenate([np.asarray(d[key]) for d, _ in episodes], axis=0)
            if key in existing:
                arr = self.data[key]
                if value.shape[1:] != arr.shape[1:]:
                    raise ValueError(f"{key}: per-step shape {value.shape[1:]} != stored {arr.shape[1:]}")
                arr.append(value.astype(arr.dtype, copy=False))
            else:
                tc = (chunks or {}).get(key) or default_time_chunk(value.shape[1:], value.dtype)
                self.data.array(key, value, chunks=(tc, *value.shape[1:]), compressor=COMPRESSOR, dtype=value.dtype)
        for field in episodes[0][1]:
            values = [m[field] for _, m in episodes]
            name = f"episode_{field}"
            if isinstance(values[0], str):
                if name not in self.meta:
                    self.meta.create_dataset(name, shape=(0,), dtype=object, object_codec=numcodecs.VLenUTF8(),
                                             chunks=(1024,))
                self.meta[name].append(np.array(values, dtype=object))
            else:
                arr = np.stack([np.asarray(v) for v in values])
                if name not in self.meta:
                    self.meta.zeros(name, shape=(0, *arr.shape[1:]), dtype=arr.dtype, chunks=(4096, *arr.shape[1:]))
                self.meta[name].append(arr)
        new_ends = self.n_steps + np.cumsum(lengths, dtype=np.int64)
        self.meta["episode_ends"].append(new_ends)
        self._ends_cache = None

    def set_attrs(self, **attrs: Any) -> None:
        """Set root attrs (JSON values); a ShapeMeta is stored as its dict."""
        for key, value in attrs.items():
            self.root.attrs[key] = value.to_dict() if isinstance(value, ShapeMeta) else value

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the buffer to a directory or a ``.zip`` file atomically; return the final path."""
        with atomic_output(path, overwrite=overwrite) as tmp:
            self.write_store(tmp, zip_file=is_zip_path(path))
        return Path(path)

    def write_store(self, target: str | os.PathLike, zip_file: bool) -> None:
        """Copy the raw store (chunks and metadata, no re-encoding) to a new directory or zip file ``target``."""
        if zip_file:
            dst = zarr.ZipStore(str(target), mode="w")
            try:
                zarr.copy_store(self.root.store, dst)
            finally:
                dst.close()
        else:
            zarr.copy_store(self.root.store, zarr.DirectoryStore(str(target)))

    def __repr__(self) -> str:
        return f"ReplayBuffer({self.path or 'memory'}: {self.n_episodes} episodes, {self.n_steps} steps, keys={self.keys})"

