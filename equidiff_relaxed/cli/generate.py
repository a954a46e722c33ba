"""Generate scripted-expert demonstrations (planar push, robosuite Lift/Stack, or a plug-in env) into a zarr
replay buffer.

equidiff-generate --env push-pillar --episodes N --out PATH.zarr [--image] [--seed S] [--workers W]
                  [--theta_regions K --region k | --theta_regions K --stratify_regions]
                  [--dart_noise 0.01 --burst_prob 0.1]
equidiff-generate --env lift --episodes N --out PATH.zarr [--action_mode abs|delta] [--radius 0.15]

The data do not depend on --workers (episode i comes from the seed words (seed, i, attempt)). Options after the
common ones belong to some envs only (their help says which); giving one the chosen env does not take is an error.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from equidiff_relaxed.errors import UserError, run_cli


@dataclass
class GenerateCommand:
    """Options of ``equidiff-generate``.

    Args:
        env: the env to generate in (a registered name: push, push-pillar, push-drift, push-wall, lift, stack, or a plug-in's).
        episodes: successful episodes to store.
        out: PATH.zarr (a folder) or PATH.zarr.zip.
        image: also record an RGB image (push: top-down camera; robosuite: agentview).
        image_size: image side in pixels (a multiple of 8).
        seed: the seed every episode's randomness derives from.
        workers: processes (the data do not depend on it).
        theta_regions: K equal orientation sectors (with --region or --stratify_regions).
        region: only draw theta inside sector k of K.
        stratify_regions: draw episode i inside sector i mod K, retrying failed attempts in the same sector: every
            sector gets its share of successful demos.
        max_attempts: expert attempts per stored episode before giving up.
        noise: noise std on the recorded expert action (metres; default: push 0, robosuite 0.005).
        max_steps: episode limit (default: push 80, lift 160, stack 300).
        overwrite: replace OUT if it exists.
        quiet: no progress bar.
    """

    env: str
    episodes: int
    out: str
    image: bool = False
    image_size: int = 88
    seed: int = 0
    workers: int = 1
    theta_regions: int | None = None
    region: int | None = None
    stratify_regions: bool = False
    max_attempts: int = 20
    noise: float | None = None
    max_steps: int | None = None
    overwrite: bool = False
    quiet: bool = False


def env_option_classes() -> list[type]:
    """The generation-options dataclasses of the registered envs (each once, in registration order)."""
    from equidiff_relaxed.envs.registry import env_names, get_env_spec

    return list(dict.fromkeys(get_env_spec(n).options for n in env_names()))


def parse_with_env_options(command: type, argv: Sequence[str] | None, prog: str, description: str | None,
                           skip: tuple[str, ...] = ()) -> tuple[object, dict[str, object]]:
    """(the command's dataclass, the env options given) from ``argv``: the command's own options plus every
    registered env's generation options (unset unless given)."""
    from equidiff_relaxed.cli.options import add_dataclass_options, make_parser, parse_namespace

    parser = make_parser(command, prog, description)
    own = {f.name for f in dataclasses.fields(command)}
    taken = set(own)
    for cls in env_option_classes():
        names = tuple(f.name for f in dataclasses.fields(cls))
        add_dataclass_options(parser, cls, optional_all=True, skip=taken | set(skip))
        taken |= set(names)
    values = parse_namespace(parser, argv)
    options = {k: v for k, v in values.items() if k not in own and v is not None}
    return command(**{k: v for k, v in values.items() if k in own}), options


def main(argv: Sequence[str] | None = None) -> int:
    args, options = parse_with_env_options(GenerateCommand, argv, "equidiff-generate", __doc__)
    from equidiff_relaxed.demos.generate import GenerateConfig, generate
    from equidiff_relaxed.threads import configure_threads

    configure_threads(max(1, args.workers))

    assert isinstance(args, GenerateCommand)
    cfg = GenerateConfig(env=args.env, episodes=args.episodes, seed=args.seed,
                         image_size=args.image_size if args.image else None, n_regions=args.theta_regions,
                         region=args.region, stratify=args.stratify_regions, max_attempts=args.max_attempts,
                         noise_std=args.noise, max_steps=args.max_steps, options=options)
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    t0 = time.perf_counter()
    s = generate(cfg, args.out, workers=args.workers, overwrite=args.overwrite, progress=not args.quiet)
    dt = time.perf_counter() - t0
    print(f"wrote {args.out}: {s['episodes']} episodes, {s['steps']} steps in {dt:.1f} s "
          f"({s['episodes'] / dt:.1f} episodes/s); expert success while generating {s['expert_success']:.3f}; "
          f"recovery steps (expert re-aligning after it started pushing) {s['recovery_share']:.1%}")
    return 0


def console() -> int:
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(console())
