"""Expert success per orientation region and the data symmetry-breaking map.

equidiff-expert-report --env push-pillar [--episodes_per_region 25] [--regions 8] [--dataset PATH.zarr]
equidiff-expert-report --env lift --radius 0.3 --grasp_symmetry 360

The map is computed from --dataset when given (it must record meta/episode_theta), else from the expert episodes
just run. The env's own options (e.g. robosuite's --radius, --grasp_symmetry) set up the env and expert as
equidiff-generate would; DART options do not apply (the expert runs unperturbed).
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from equidiff_relaxed.errors import UserError, run_cli


@dataclass
class ExpertReportCommand:
    """Options of ``equidiff-expert-report``.

    Args:
        env: the env (a registered name).
        episodes_per_region: expert episodes in each region.
        regions: K equal orientation regions.
        seed: the seed the episodes derive from.
        dataset: compute the symmetry-breaking map from this dataset.
        noise: expert action noise std.
        quiet: no progress bar.
    """

    env: str
    episodes_per_region: int = 25
    regions: int = 8
    seed: int = 0
    dataset: str | None = None
    noise: float = 0.005
    quiet: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    from equidiff_relaxed.cli.generate import parse_with_env_options

    args, options = parse_with_env_options(ExpertReportCommand, argv, "equidiff-expert-report", __doc__)
    assert isinstance(args, ExpertReportCommand)
    if args.regions < 1:
        raise UserError(f"--regions must be >= 1, got {args.regions}")
    if args.episodes_per_region < 1:
        raise UserError(f"--episodes_per_region must be >= 1, got {args.episodes_per_region}")
    from equidiff_relaxed.data.replay_buffer import ReplayBuffer
    from equidiff_relaxed.data.symmetry_map import action_subfields, format_map, symmetry_breaking_map
    from equidiff_relaxed.demos.report import expert_success_by_region, format_success

    data = ReplayBuffer.open(args.dataset) if args.dataset else None  # fail early on a bad path
    rows, rollouts = expert_success_by_region(args.env, args.episodes_per_region, args.regions, args.seed,
                                              noise_std=args.noise, progress=not args.quiet, options=options)
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


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
