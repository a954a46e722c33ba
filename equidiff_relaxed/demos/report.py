"""Expert success per orientation region: theta drawn uniformly inside each of K sectors, episodes reproducible
from (seed, region, episode)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.demos.rollout import draw_theta, run_expert_episode
from equidiff_relaxed.envs.registry import get_env_spec, make_env, make_expert
from equidiff_relaxed.envs.protocol import task_env
from equidiff_relaxed.progress import progress_bar
from equidiff_relaxed.symmetry.regions import region_bounds


@dataclass
class RegionSuccess:
    region: int
    theta_range: tuple[float, float]
    episodes: int
    successes: int
    mean_length: float
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. wrist_range: (min, max) wrist joint angle (rad)

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else math.nan


def expert_success_by_region(env_name: str, episodes_per_region: int, n_regions: int = 8, seed: int = 0,
                             noise_std: float = 0.005, progress: bool = True,
                             options: dict[str, Any] | None = None) -> tuple[list[RegionSuccess], ReplayBuffer]:
    """Run the expert ``episodes_per_region`` times in each sector; also return all episodes as a buffer
    (actions, observations and per-episode theta; no simulator states). ``options``: the env's generation options
    (its registration's dataclass; only the env and expert settings apply, no DART). Envs with
    ``wrist_angle(state)`` (the robosuite arm) also report each region's wrist joint range."""
    env_options = get_env_spec(env_name).generation_options(dict(options or {}))
    env = make_env(env_name, **env_options.env_kwargs(None, None))
    expert = make_expert(env_name, env, noise_std, **env_options.expert_kwargs())
    wrist = getattr(env, "wrist_angle", None)
    buf = ReplayBuffer.create_empty()
    rows = []
    bar = progress_bar(n_regions * episodes_per_region, f"expert on {env_name}", "ep", enabled=progress)
    for k in range(n_regions):
        wins, lengths, angles = 0, [], []
        for e in range(episodes_per_region):
            rng = np.random.default_rng(np.random.SeedSequence([seed, k, e]))
            ep = run_expert_episode(env, expert, [seed, k, e, 1], theta=draw_theta(rng, n_regions, k))
            wins += ep.success
            lengths.append(ep.length)
            if wrist is not None:
                angles += [wrist(s) for s in ep.data["states"]]
            buf.add_episode({k_: v for k_, v in ep.data.items() if k_ != "states"},
                            {"theta": ep.theta, "success": ep.success})
            bar.update(1)
        extra = {"wrist_range": (float(min(angles)), float(max(angles)))} if angles else {}
        rows.append(RegionSuccess(k, region_bounds(k, n_regions), episodes_per_region, wins, float(np.mean(lengths)),
                                  extra))
    bar.close()
    task = task_env(env)
    buf.set_attrs(shape_meta=ShapeMeta.from_dict(task.shape_meta_dict()), symmetry=task.dataset_attrs()["symmetry"])
    env.close()
    return rows, buf


def format_success(rows: list[RegionSuccess]) -> str:
    wrist = any("wrist_range" in r.extra for r in rows)
    lines = [f"{'region':>6} {'theta (deg)':>13} {'episodes':>8} {'success':>8} {'rate':>6} {'mean steps':>10}"
             + ("   wrist joint (rad)" if wrist else ""), "-" * (79 if wrist else 58)]
    for r in rows:
        lo, hi = (math.degrees(v) for v in r.theta_range)
        w = r.extra.get("wrist_range")
        lines.append(f"{r.region:>6} {lo:>6.1f}-{hi:<6.1f} {r.episodes:>8} {r.successes:>8} {r.rate:>6.3f} "
                     f"{r.mean_length:>10.1f}" + (f"   {w[0]:+.2f} .. {w[1]:+.2f}" if w else ""))
    total = sum(r.episodes for r in rows)
    lines.append(f"{'all':>6} {'':>13} {total:>8} {sum(r.successes for r in rows):>8} "
                 f"{sum(r.successes for r in rows) / max(total, 1):>6.3f}")
    return "\n".join(lines)
