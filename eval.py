"""Evaluate policies per orientation region: the ``equidiff-eval`` command run from this checkout (see
equidiff_relaxed/cli/evaluate.py).

python eval.py --checkpoint CKPT [CKPT ...] --out DIR [--episodes_per_region 25] [--regions 8]
"""
import sys

from equidiff_relaxed.cli.evaluate import console

if __name__ == "__main__":
    sys.exit(console())
