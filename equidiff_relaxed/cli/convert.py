"""Convert a robomimic / MimicGen HDF5 file to a zarr replay buffer.

equidiff-convert --hdf5 IN.hdf5 --out OUT.zarr [--keys k1 k2] [--filter_key train] [--shape_meta meta.yaml]
                 [--center X Y] [--abs_actions] [--overwrite]

The input is opened read-only; the output is written atomically (nothing under OUT until it is complete).
shape_meta is inferred from robosuite key names unless --shape_meta declares it; every guess is a ``note:`` line.
--abs_actions (also spelled --abs-actions) stores EquiDiff's 10-D absolute pose actions, computed by replaying each
demo's states with its delta OSC controller and checked by replaying them with an absolute one (needs robosuite).
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from equidiff_relaxed.errors import UserError, run_cli


@dataclass
class ConvertCommand:
    """Options of ``equidiff-convert``.

    Args:
        hdf5: robomimic HDF5 file (opened read-only).
        out: output: OUT.zarr directory or OUT.zarr.zip.
        keys: observation keys to keep, e.g. robot0_eef_pos object (or comma-separated; default: all).
        filter_key: only the demos listed in mask/<filter_key>, e.g. train.
        shape_meta: YAML file declaring shape_meta (default: inferred from key names).
        center: symmetry centre X Y in world coordinates (default 0 0: robosuite's table centre).
        abs_actions: store 10-D absolute actions (position, rot6d, gripper) from the demos' states instead of the
            recorded 7-D delta OSC actions (needs robosuite and data/demo_N/states).
        overwrite: replace OUT if it exists.
        quiet: no progress bar.
    """

    hdf5: str
    out: str
    keys: list[str] | None = None
    filter_key: str | None = None
    shape_meta: str | None = None
    center: list[float] | None = None
    abs_actions: bool = False
    overwrite: bool = False
    quiet: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse, split_items

    args = parse(ConvertCommand, argv, "equidiff-convert", __doc__)
    from equidiff_relaxed.envs.robosuite.robomimic_hdf5 import convert_robomimic
    from equidiff_relaxed.data.shape_meta import ShapeMeta

    keys = split_items(args.keys)
    if args.keys is not None and not keys:
        raise UserError("--keys is empty")
    center = tuple(args.center) if args.center is not None else (0.0, 0.0)
    if len(center) != 2:
        raise UserError(f"--center takes two numbers X Y, got {len(center)}")
    shape_meta = ShapeMeta.load(args.shape_meta) if args.shape_meta else None
    t0 = time.perf_counter()
    summary = convert_robomimic(args.hdf5, args.out, keys=keys, filter_key=args.filter_key,
                                overwrite=args.overwrite, shape_meta=shape_meta, center=center,
                                progress=not args.quiet, abs_actions=args.abs_actions)
    dt = time.perf_counter() - t0
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.out}: {summary['episodes']} episodes, {summary['steps']} steps, keys {', '.join(summary['keys'])}"
          f" ({dt:.1f} s, {summary['steps'] / max(dt, 1e-9):,.0f} steps/s)")
    return 0


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
