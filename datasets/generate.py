"""Generate scripted-expert demonstrations (planar push or robosuite Lift/Stack) into a zarr replay buffer.

python datasets/generate.py --env push-pillar --episodes N --out PATH.zarr [--image] [--seed S] [--workers W]
                            [--theta-regions K --region k | --theta-regions K --stratify-regions]
                            [--dart-noise 0.01 --burst-prob 0.1]
python datasets/generate.py --env lift --episodes N --out PATH.zarr [--action-mode abs|delta] [--radius 0.15]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from equidiff_relaxed.demos.generate import GenerateConfig, generate
from equidiff_relaxed.envs import ENV_NAMES
from equidiff_relaxed.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help=f"one of: {', '.join(ENV_NAMES)}")
    parser.add_argument("--episodes", type=int, required=True)
    parser.add_argument("--out", required=True, help="PATH.zarr or PATH.zarr.zip")
    parser.add_argument("--image", action="store_true",
                        help="also record an RGB image (push: top-down camera; robosuite: agentview)")
    parser.add_argument("--image-size", type=int, default=88, help="image side in pixels (multiple of 8; default 88)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes (the data do not depend on it)")
    parser.add_argument("--theta-regions", type=int, help="K equal orientation sectors (with --region)")
    parser.add_argument("--region", type=int, help="only draw theta inside sector k of K")
    parser.add_argument("--stratify-regions", action="store_true",
                        help="draw episode i inside sector i mod K (with --theta-regions K), retrying failed attempts "
                             "in the same sector: every sector gets its share of successful demos")
    parser.add_argument("--max-attempts", type=int, default=20,
                        help="expert attempts per stored episode before giving up (default 20)")
    parser.add_argument("--noise", type=float,
                        help="noise std on the recorded expert action (metres; default: push 0, robosuite 0.005)")
    parser.add_argument("--dart-noise", type=float,
                        help="push: Gaussian std (m) added to the EXECUTED action; the label stays clean (default 0.01)")
    parser.add_argument("--burst-prob", type=float,
                        help="push: per-step probability of a perturbation burst (default 0.1; 0 turns bursts off)")
    parser.add_argument("--burst-steps", type=int, default=3, help="push: steps per burst (default 3)")
    parser.add_argument("--burst-scale", type=float, default=0.03, help="push: burst offset in metres (default 0.03)")
    parser.add_argument("--expert-plan-once", action="store_true",
                        help="push: the older expert that plans its path once per episode (hidden state; for ablations)")
    parser.add_argument("--max-steps", type=int, help="episode limit (default: push 80, lift 160, stack 300)")
    parser.add_argument("--action-mode", default="abs",
                        help="robosuite only: abs (10-D pose, default) or delta (7-D OSC delta)")
    parser.add_argument("--radius", type=float, help="robosuite only: object circle radius in m (default 0.15)")
    parser.add_argument("--grasp-symmetry", type=float,
                        help="robosuite only: the object symmetry in degrees the expert's grasp yaw uses (default 90, "
                             "a cube; 360: the wrist follows theta and its joint limit breaks the symmetry)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    cfg = GenerateConfig(env=args.env, episodes=args.episodes, seed=args.seed,
                         image_size=args.image_size if args.image else None, n_regions=args.theta_regions,
                         region=args.region, stratify=args.stratify_regions, max_attempts=args.max_attempts,
                         noise_std=args.noise, dart_noise=args.dart_noise,
                         burst_prob=args.burst_prob, burst_steps=args.burst_steps, burst_scale=args.burst_scale,
                         expert_memoryless=not args.expert_plan_once, max_steps=args.max_steps,
                         action_mode=args.action_mode, radius=args.radius, grasp_symmetry=args.grasp_symmetry)
    t0 = time.perf_counter()
    s = generate(cfg, args.out, workers=args.workers, overwrite=args.overwrite, progress=not args.quiet)
    dt = time.perf_counter() - t0
    print(f"wrote {args.out}: {s['episodes']} episodes, {s['steps']} steps in {dt:.1f} s "
          f"({s['episodes'] / dt:.1f} episodes/s); expert success while generating {s['expert_success']:.3f}; "
          f"recovery steps (expert re-aligning after it started pushing) {s['recovery_share']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
