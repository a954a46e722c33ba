"""Train a diffusion policy (LightningCLI over the recipe YAMLs).

equidiff-train --config configs/push.yaml --data.dataset_path DATA.zarr [--model.model equi] [--out DIR]
               [--ckpt_path CKPT|auto] [--init_from CKPT]

--config takes a path or the name of a shipped recipe (push, push_image, lift, demo, legacy/bench_push_equi, ...).
Any option can be overridden, e.g. --trainer.max_steps 2000 --data.n_demos 25 --model.relax_alpha 1e-2.
--out DIR (default runs/<config name>-<model>) holds the run: checkpoints/last.ckpt, the policy folder
checkpoints/policy/, checkpoints/loss_curves.png and logs/. --ckpt_path resumes a run exactly (optimizer, scheduler, EMA, step,
data order; from an end-of-epoch checkpoint such as last.ckpt); --ckpt_path auto picks the newest checkpoint of the
run folder that loads (and says which), or starts fresh if there is none. --init_from fine-tunes from a
checkpoint's (EMA) weights, e.g. an equivariant policy into a relaxed one. Checkpoints are written atomically.
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from equidiff_relaxed.errors import run_cli

RECIPES = Path(__file__).resolve().parents[1] / "configs"  # shipped with the package (configs/ in a checkout)


def recipe_path(value: str) -> str:
    """``value`` if it names a file, else the shipped recipe of that name (``push`` -> .../configs/push.yaml)."""
    if Path(value).exists():
        return value
    bundled = RECIPES / (value if value.endswith((".yaml", ".yml")) else f"{value}.yaml")
    if not bundled.exists() and Path(value).parts[:1] == ("configs",):
        bundled = RECIPES.joinpath(*Path(value).parts[1:])
    return str(bundled) if bundled.exists() else value


def resolve_config_args(argv: Sequence[str]) -> list[str]:
    """``argv`` with each ``--config`` value resolved by :func:`recipe_path`."""
    out = list(argv)
    for i, token in enumerate(out):
        if token == "--config" and i + 1 < len(out):
            out[i + 1] = recipe_path(out[i + 1])
        elif token.startswith("--config="):
            out[i] = "--config=" + recipe_path(token.split("=", 1)[1])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import normalise_argv

    warnings.filterwarnings("ignore", module="escnn")
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # we pass sys.argv ourselves
    args = resolve_config_args(normalise_argv(list(sys.argv[1:] if argv is None else argv)))
    from equidiff_relaxed.train.run import build_cli, fit
    from equidiff_relaxed.threads import configure_threads

    configure_threads(1)
    fit(build_cli(args, description=__doc__))
    return 0


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
