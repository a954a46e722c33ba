"""Write a small synthetic dataset (no simulator needed): a zarr replay buffer or a robomimic-layout HDF5 file.

python datasets/make_synthetic.py --format zarr|robomimic --out PATH [--episodes N] [--image-size S] [--seed S]
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from equidiff_relaxed.data.atomic import atomic_output
from equidiff_relaxed.data.synthetic import make_push_buffer, write_robomimic_hdf5
from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=("zarr", "robomimic"), default="zarr")
    parser.add_argument("--out", required=True, help="output path (.zarr, .zarr.zip or .hdf5)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=0, help="add a top-down image of this size (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    if args.format == "zarr":
        make_push_buffer(args.episodes, seed=args.seed, image_size=args.image_size or None).save(
            args.out, overwrite=args.overwrite)
    else:
        lengths = np.random.default_rng(args.seed).integers(20, 60, size=args.episodes).tolist()
        n_train = max(1, int(0.9 * args.episodes))
        masks = {"train": range(n_train), "valid": range(n_train, args.episodes)}
        with atomic_output(args.out, overwrite=args.overwrite) as tmp:
            write_robomimic_hdf5(tmp, lengths, image_size=args.image_size or None, masks=masks, seed=args.seed)
    print(f"wrote {args.out} ({args.episodes} synthetic episodes, {args.format})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
