"""Evaluate policies per orientation region.

python eval.py --checkpoint CKPT [CKPT ...] [--env NAME] [--regions 8] [--episodes-per-region 25] [--n-envs 2]
               [--seed 0] [--ddim-steps K] [--video] [--video-failures N] --out DIR

Writes DIR/results.json, DIR/regions.csv, DIR/regions.png (polar chart), DIR/relaxation.png (relaxed models) and,
with --video, one MP4 per region and checkpoint; with --video-failures N, the first N failed episodes of each region
per checkpoint as DIR/<ckpt-stem>_region<k>_fail_ep<i>_<category>.mp4. Checkpoints are compared on identical
episodes. Prints the success table, failed episodes per region and failure category, and symmetry diagnostics.

An env that raises or whose worker process dies, or that returns a NaN/inf observation, fails that episode only
(category env_error / nonfinite_state, with its reason in results.json); the evaluation goes on. A policy that
outputs NaN/inf actions stops it with one error line naming the checkpoint.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", nargs="+", required=True,
                        help="one or more Lightning .ckpt files or policy folders (config.json + model.safetensors)")
    parser.add_argument("--env", help="override the env recorded with the training data")
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--episodes-per-region", type=int, default=25)
    parser.add_argument("--n-envs", type=int, default=2, help="parallel envs (processes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ddim-steps", type=int, help="DDIM steps (default: the checkpoint's)")
    parser.add_argument("--video", action="store_true", help="one MP4 per region (its first episode)")
    parser.add_argument("--video-failures", type=int, default=0, metavar="N",
                        help="MP4s of the first N failed episodes of each region (per checkpoint)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.video_failures < 0:  # also checked by evaluate(); here before the slow imports
        raise UserError(f"--video-failures must be >= 0, got {args.video_failures}")
    from equidiff_relaxed.eval.evaluate import evaluate, format_diagnostics

    payload = evaluate(args.checkpoint, args.out, args.env, args.regions, args.episodes_per_region, args.n_envs,
                       args.seed, args.ddim_steps, args.video, progress=not args.quiet,
                       video_failures=args.video_failures)
    print(payload["table"])
    print()
    print(payload["failure_table"])
    print(format_diagnostics(payload))
    print(f"wrote {args.out}/results.json, regions.csv, regions.png" + (", relaxation.png" if any(
        c.relaxation for c in payload["checkpoints"]) else ""))
    faults = sum(e["failure_reason"] is not None for c in payload["checkpoints"] for e in c.episodes)
    if faults:
        print(f"{faults} episode(s) ended by an env fault (env_error / nonfinite_state); "
              f"their failure_reason is in {args.out}/results.json")
    n_videos = sum(len(c.failure_videos) for c in payload["checkpoints"])
    if args.video_failures:
        print(f"wrote {n_videos} failure video(s) to {args.out} (<checkpoint>_region<k>_fail_ep<i>_<category>.mp4)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
