"""Expert success per orientation region and the data symmetry-breaking map.

python datasets/expert_report.py --env push-pillar [--episodes-per-region 25] [--regions 8] [--dataset PATH.zarr]
python datasets/expert_report.py --env lift --radius 0.3

The map is computed from --dataset when given (it must record meta/episode_theta), else from the expert episodes
just run.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.symmetry_map import action_subfields, format_map, symmetry_breaking_map
from equidiff_relaxed.demos.report import expert_success_by_region, format_success
from equidiff_relaxed.envs import ENV_NAMES, ROBOSUITE_ENVS
from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help=f"one of: {', '.join(ENV_NAMES)}")
    parser.add_argument("--episodes-per-region", type=int, default=25)
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", help="compute the symmetry-breaking map from this dataset")
    parser.add_argument("--radius", type=float, help="robosuite only: object circle radius in m (default 0.15)")
    parser.add_argument("--noise", type=float, default=0.005, help="expert action noise std (default 0.005)")
    parser.add_argument("--grasp-symmetry", type=float,
                        help="robosuite only: the object's rotational symmetry in degrees for the grasp yaw "
                             "(default 90, a cube; 360: the wrist must follow theta)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.regions < 1:
        raise UserError(f"--regions must be >= 1, got {args.regions}")
    if args.episodes_per_region < 1:
        raise UserError(f"--episodes-per-region must be >= 1, got {args.episodes_per_region}")
    data = ReplayBuffer.open(args.dataset) if args.dataset else None  # fail early on a bad path
    env_kwargs = {"layout": {"radius": args.radius}} if args.radius is not None else None
    expert_kwargs = {"symmetry_deg": args.grasp_symmetry} if args.grasp_symmetry is not None else None
    if (env_kwargs or expert_kwargs) and args.env not in ROBOSUITE_ENVS:
        raise UserError("--radius and --grasp-symmetry apply to robosuite tasks only")
    if args.grasp_symmetry is not None and not 0 < args.grasp_symmetry <= 360:
        raise UserError(f"--grasp-symmetry must be in (0, 360] degrees, got {args.grasp_symmetry}")
    rows, rollouts = expert_success_by_region(args.env, args.episodes_per_region, args.regions, args.seed,
                                              noise_std=args.noise, progress=not args.quiet, env_kwargs=env_kwargs,
                                              expert_kwargs=expert_kwargs)
    print(f"expert success per region on {args.env} ({args.episodes_per_region} episodes per region)")
    print(format_success(rows))
    source = args.dataset or f"the {len(rows) * args.episodes_per_region} expert episodes above"
    buf = data or rollouts
    print(f"\ndata symmetry-breaking map of {source}")
    print(format_map(symmetry_breaking_map(buf, args.regions)))
    for label, dims in action_subfields(buf):
        print(f"\n... of the action's {label} only")
        print(format_map(symmetry_breaking_map(buf, args.regions, dims=dims), units=""))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
