"""Export a zarr replay buffer to a robomimic HDF5 file (data/demo_N with obs, actions, states, rewards, dones;
env_args with env_name and env_kwargs), e.g. to replay demos in robosuite or train with robomimic-based tools.

equidiff-export --zarr IN.zarr --out OUT.hdf5 [--keys k1 k2] [--overwrite] [--quiet]
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from equidiff_relaxed.errors import UserError, run_cli


@dataclass
class ExportCommand:
    """Options of ``equidiff-export``.

    Args:
        zarr: input replay buffer (.zarr directory or .zarr.zip; read-only).
        out: output robomimic HDF5 file.
        keys: observation keys to write (or comma-separated; default: those in shape_meta).
        overwrite: replace OUT if it exists.
        quiet: no progress bar.
    """

    zarr: str
    out: str
    keys: list[str] | None = None
    overwrite: bool = False
    quiet: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse, split_items

    args = parse(ExportCommand, argv, "equidiff-export", __doc__)
    from equidiff_relaxed.envs.robosuite.robomimic_export import export_robomimic

    keys = split_items(args.keys)
    if args.keys is not None and not keys:
        raise UserError("--keys is empty")
    t0 = time.perf_counter()
    s = export_robomimic(args.zarr, args.out, overwrite=args.overwrite, obs_keys=keys, progress=not args.quiet)
    dt = time.perf_counter() - t0
    print(f"wrote {args.out}: {s['episodes']} demos, {s['steps']} steps, obs {', '.join(s['obs_keys'])} "
          f"({dt:.1f} s, {s['steps'] / max(dt, 1e-9):,.0f} steps/s)")
    return 0


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
