"""Evaluate policies per orientation region on identical (paired) episodes.

equidiff-eval --checkpoint CKPT [CKPT ...] --out DIR [--env NAME] [--regions 8] [--episodes_per_region 25]
              [--n_envs 2] [--seed 0] [--ddim_steps K] [--max_steps T] [--video] [--video_failures N]

CKPT: a Lightning .ckpt or a policy folder (config.json + model.safetensors). The env is the one the training data
record, recreated with every recorded setting, unless --env names another. Writes DIR/results.json,
DIR/regions.csv, DIR/regions.png (polar chart), DIR/symmetry.png (success and equivariance error per region of each
checkpoint, beside the data's symmetry-break ratio), DIR/relaxation.png (relaxed models) and, with --video, one MP4 per
region and checkpoint; with --video_failures N, the first N failed episodes of each region per checkpoint as
DIR/<ckpt-stem>_region<k>_fail_ep<i>_<category>.mp4. Prints the success table, failed episodes per region and
failure category, and symmetry diagnostics.

An env that raises or whose worker process dies, or that returns a NaN/inf observation, fails that episode only
(category env_error / nonfinite_state, with its reason in results.json); the evaluation goes on. A policy that
outputs NaN/inf actions stops it with one error line naming the checkpoint.
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from equidiff_relaxed.errors import UserError, run_cli


@dataclass
class EvalCommand:
    """Options of ``equidiff-eval``.

    Args:
        checkpoint: one or more Lightning .ckpt files or policy folders (config.json + model.safetensors).
        out: output folder.
        env: evaluate in this env instead of the one recorded with the training data.
        regions: K equal orientation regions.
        episodes_per_region: paired episodes in each region.
        n_envs: parallel envs (worker processes; 1: in this process).
        seed: the episode plan's seed (reset states and diffusion noise).
        ddim_steps: DDIM steps (default: the checkpoint's).
        max_steps: episode length in env steps (default: the env's; robomimic tasks: 400, robomimic's horizon).
        video: one MP4 per region (its first episode).
        video_failures: MP4s of the first N failed episodes of each region (per checkpoint).
        quiet: no progress bar.
    """

    checkpoint: list[str]
    out: str
    env: str | None = None
    regions: int = 8
    episodes_per_region: int = 25
    n_envs: int = 2
    seed: int = 0
    ddim_steps: int | None = None
    max_steps: int | None = None
    video: bool = False
    video_failures: int = 0
    quiet: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.options import parse

    args = parse(EvalCommand, argv, "equidiff-eval", __doc__)
    if args.video_failures < 0:  # also checked by evaluate(); here before the slow imports
        raise UserError(f"--video_failures must be >= 0, got {args.video_failures}")
    warnings.filterwarnings("ignore", module="escnn")
    from equidiff_relaxed.eval.evaluate import evaluate, format_diagnostics
    from equidiff_relaxed.threads import configure_threads

    configure_threads(args.n_envs + 1 if args.n_envs > 1 else 1)  # this process and its env workers share the cores

    payload = evaluate(args.checkpoint, args.out, args.env, args.regions, args.episodes_per_region, args.n_envs,
                       args.seed, args.ddim_steps, args.video, progress=not args.quiet,
                       video_failures=args.video_failures, max_steps=args.max_steps)
    print(payload["table"])
    print()
    print(payload["failure_table"])
    print(format_diagnostics(payload))
    print(f"wrote {args.out}/results.json, regions.csv, regions.png, symmetry.png" + (", relaxation.png" if any(
        c.relaxation for c in payload["checkpoints"]) else ""))
    faults = sum(e["failure_reason"] is not None for c in payload["checkpoints"] for e in c.episodes)
    if faults:
        print(f"{faults} episode(s) ended by an env fault (env_error / nonfinite_state); "
              f"their failure_reason is in {args.out}/results.json")
    n_videos = sum(len(c.failure_videos) for c in payload["checkpoints"])
    if args.video_failures:
        print(f"wrote {n_videos} failure video(s) to {args.out} (<checkpoint>_region<k>_fail_ep<i>_<category>.mp4)")
    return 0


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
