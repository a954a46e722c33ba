"""How a trained gated policy splits its prediction between its exact path and its free path, per orientation region
of its own training windows: the denoising loss of the exact path alone and of the whole policy, the free path's share
of the prediction ||what it adds|| / ||prediction||, and the gate.

python studies/gated_paths.py RUN [RUN ...] [--dataset benchmarks/results/breaks/push-wall/data.zarr] [--demos 100]
                              [--out benchmarks/results/promise_pilot/gated_paths.md]

RUN: a sweep run folder holding policy/ (e.g. benchmarks/results/promise_pilot/gated_now/push-wall/runs/
gated_n100_s0). Its training episodes are recomputed as training chose them (val_ratio 0.1, split seed 0, --demos);
every third window, 4 draws of noise and timestep per window (fixed seeds: the same numbers every time). Needs the
runs' checkpoints (git-ignored; studies/queue/promise_pilot*.txt retrains them).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402

QUANTITIES = (("exact", "loss, exact path alone"), ("all", "loss, whole policy"),
              ("free_share", "free path's share of the prediction"), ("gate", "gate"))


def split_per_region(run: Path, dataset: Path, demos: int, n_regions: int = 8) -> dict[str, list[float]]:
    """{quantity: [mean over the run's training windows in region k]} (see the module docstring)."""
    import numpy as np
    import torch

    from equidiff_relaxed.data.replay_buffer import ReplayBuffer
    from equidiff_relaxed.data.sampler import SequenceSampler
    from equidiff_relaxed.data.split import split_episodes
    from equidiff_relaxed.data.windows import window_to_tensors
    from equidiff_relaxed.nn.gated import GatedDenoiser
    from equidiff_relaxed.policy.pretrained import load_pretrained
    from equidiff_relaxed.symmetry.regions import region_of

    policy = load_pretrained(run / "policy").eval()
    if not isinstance(policy.denoiser, GatedDenoiser):
        raise UserError("not a gated policy (no exact and free path to split)", run)
    buf = ReplayBuffer.open(dataset)
    train, _ = split_episodes(buf.n_episodes, 0.1, 0, demos, str(dataset))
    region = region_of(buf.episode_meta("theta"), n_regions, 0.0)
    keys = list(policy.meta.obs)
    sampler = SequenceSampler(buf.load_arrays([*keys, "action"]), buf.episode_ends, policy.horizon,
                              policy.n_obs_steps, policy.n_action_steps, keys, episodes=train, source=str(dataset))
    idx = np.arange(0, len(sampler), 3)
    windows = [sampler.sample(int(i)) for i in idx]
    regions = region[np.searchsorted(buf.episode_ends, sampler.windows[idx, 0], side="right")]
    obs = window_to_tensors({k: np.stack([w[k] for w in windows]) for k in keys}, policy.meta, batch=True)
    action = torch.from_numpy(np.stack([w["action"] for w in windows])).float()
    if policy.relative is not None:
        action = policy.relative.to_relative(action, policy.relative.reference(obs, policy.n_obs_steps))
    x0 = policy.normalizer.normalize(action, "action")
    scheduler, den = policy.train_scheduler, policy.denoiser
    gen = torch.Generator().manual_seed(0)
    draws: dict[str, list] = {q: [] for q, _ in QUANTITIES}
    with torch.no_grad():
        c_exact, c_free, gate = policy.encoder(policy._normalize_obs(obs))
        for _ in range(4):
            noise = torch.randn(x0.shape, generator=gen)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), generator=gen)
            noisy, target = scheduler.add_noise(x0, noise, t), policy.denoising_target(x0, noise, t)
            exact = den.equi(noisy, t, c_exact)
            whole = den(noisy, t, (c_exact, c_free, gate))
            added = whole - exact
            draws["exact"].append(((exact - target) ** 2).mean((1, 2)).numpy())
            draws["all"].append(((whole - target) ** 2).mean((1, 2)).numpy())
            draws["free_share"].append((added.norm(dim=(1, 2)) / whole.norm(dim=(1, 2)).clamp_min(1e-9)).numpy())
            draws["gate"].append(gate.numpy())
    return {q: [float(np.mean(np.mean(v, 0)[regions == k])) for k in range(n_regions)] for q, v in draws.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--dataset", default="benchmarks/results/breaks/push-wall/data.zarr")
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results/promise_pilot/gated_paths.md")
    args = parser.parse_args(argv)
    import torch

    from equidiff_relaxed.data.atomic import atomic_write_text

    torch.set_num_threads(1)
    lines = ["# How gated policies split their prediction, per region of their training windows", "",
             f"Made by `python studies/gated_paths.py {' '.join(args.runs)}` ({args.demos} demos of "
             f"`{args.dataset}`; every third training window, 4 draws of noise and timestep each).", ""]
    for run in map(Path, args.runs):
        if not (run / "policy").is_dir():
            raise UserError("no policy/ folder (train the run first)", run)
        table = split_per_region(run, Path(args.dataset), args.demos)
        n = len(table["gate"])
        lines += [f"## `{run}`", "", "| quantity | " + " | ".join(f"r{k}" for k in range(n)) + " |",
                  "|---|" + "---|" * n]
        lines += [f"| {label} | " + " | ".join(f"{v:.4f}" for v in table[q]) + " |" for q, label in QUANTITIES]
        lines.append("")
    atomic_write_text(Path(args.out), "\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
