"""Train a diffusion policy: the ``equidiff-train`` command run from this checkout (see equidiff_relaxed/cli/train.py).

python train.py --config configs/push.yaml --data.dataset_path DATA.zarr [--model.model equi] [--out DIR]
"""
import sys

from equidiff_relaxed.cli.train import console

if __name__ == "__main__":
    sys.exit(console())
