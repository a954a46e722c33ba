"""Export a zarr replay buffer to a robomimic HDF5 file (data/demo_N with obs, actions, states, rewards, dones;
env_args with env_name and env_kwargs), e.g. to replay demos in robosuite or train with robomimic-based tools.

python datasets/export_robomimic.py --zarr IN.zarr --out OUT.hdf5 [--keys k1,k2] [--overwrite] [--quiet]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from equidiff_relaxed.data.robomimic_export import export_robomimic
from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zarr", required=True, help="input replay buffer (.zarr directory or .zarr.zip; read-only)")
    parser.add_argument("--out", required=True, help="output robomimic HDF5 file")
    parser.add_argument("--keys", help="comma-separated observation keys to write (default: those in shape_meta)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.keys.split(",") if k.strip()] if args.keys else None
    if args.keys is not None and not keys:
        raise UserError("--keys is empty")
    t0 = time.perf_counter()
    s = export_robomimic(args.zarr, args.out, overwrite=args.overwrite, obs_keys=keys, progress=not args.quiet)
    dt = time.perf_counter() - t0
    print(f"wrote {args.out}: {s['episodes']} demos, {s['steps']} steps, obs {', '.join(s['obs_keys'])} "
          f"({dt:.1f} s, {s['steps'] / max(dt, 1e-9):,.0f} steps/s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
