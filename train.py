"""Train a diffusion policy: python train.py --config configs/push_relaxed.yaml [--ckpt_path CKPT|auto] [--init_from CKPT]

LightningCLI: any option can be overridden, e.g. --trainer.max_epochs 5 --data.n_demos 25 --model.relax_alpha 1e-2.
--ckpt_path resumes a run exactly (optimizer, scheduler, EMA, step, data order; from an end-of-epoch checkpoint such
as last.ckpt); --ckpt_path auto picks the newest checkpoint of the run's folders that loads (and says which), or
starts fresh if there is none. --init_from fine-tunes from a checkpoint's (EMA) weights, e.g. an equivariant policy
into a relaxed one. Checkpoints are written atomically; last.ckpt is refreshed every epoch (LastCheckpoint).
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

from equidiff_relaxed.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="escnn")
    from equidiff_relaxed.policy.train_cli import build_cli, fit

    fit(build_cli(list(argv) if argv is not None else None, description=__doc__))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
