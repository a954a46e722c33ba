"""Convert a robomimic / MimicGen HDF5 file to a zarr replay buffer.

python datasets/convert_robomimic.py --hdf5 IN.hdf5 --out OUT.zarr [--keys k1,k2] [--filter-key train] [--overwrite]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from equidiff_relaxed.data.robomimic_hdf5 import convert_robomimic
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.errors import UserError, run_cli


def _center(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y, got {text!r}") from None
    return x, y


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hdf5", required=True, help="robomimic HDF5 file (opened read-only)")
    parser.add_argument("--out", required=True, help="output: OUT.zarr directory or OUT.zarr.zip")
    parser.add_argument("--keys", help="comma-separated observation keys to keep (default: all)")
    parser.add_argument("--filter-key", help="only the demos listed in mask/<filter-key>, e.g. train")
    parser.add_argument("--shape-meta", help="YAML file declaring shape_meta (default: inferred from key names)")
    parser.add_argument("--center", type=_center, default=(0.0, 0.0),
                        help="symmetry centre X,Y in world coordinates (default 0,0: robosuite's table centre)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.keys.split(",") if k.strip()] if args.keys else None
    if args.keys is not None and not keys:
        raise UserError("--keys is empty")
    shape_meta = ShapeMeta.load(args.shape_meta) if args.shape_meta else None
    t0 = time.perf_counter()
    summary = convert_robomimic(args.hdf5, args.out, keys=keys, filter_key=args.filter_key,
                                overwrite=args.overwrite, shape_meta=shape_meta, center=args.center,
                                progress=not args.quiet)
    dt = time.perf_counter() - t0
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.out}: {summary['episodes']} episodes, {summary['steps']} steps, keys {', '.join(summary['keys'])}"
          f" ({dt:.1f} s, {summary['steps'] / max(dt, 1e-9):,.0f} steps/s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
