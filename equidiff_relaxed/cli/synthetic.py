"""Write a small synthetic dataset (no simulator needed): a zarr replay buffer or a robomimic-layout HDF5 file,
e.g. to try the converter or the training loop.

equidiff-synthetic --format zarr|robomimic --out PATH [--episodes N] [--image_size S] [--seed S]
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from equidiff_relaxed.errors import UserError, run_cli


@dataclass
class SyntheticCommand:
    """Options of ``equidiff-synthetic``.

    Args:
        out: output path (.zarr, .zarr.zip or .hdf5).
        format: zarr (a replay buffer) or robomimic (an HDF5 file in robomimic's layout).
        episodes: episodes to write.
        image_size: add a top-down image of this size (0: none).
        seed: the data's seed.
        overwrite: replace OUT if it exists.
    """

    out: str
    format: Literal["zarr", "robomimic"] = "zarr"
    episodes: int = 20
    image_size: int = 0
    seed: int = 0
    overwrite: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse

    args = parse(SyntheticCommand, argv, "equidiff-synthetic", __doc__)
    import numpy as np

    from equidiff_relaxed.data.atomic import atomic_output
    from equidiff_relaxed.data.synthetic import make_push_buffer, write_robomimic_hdf5

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


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
