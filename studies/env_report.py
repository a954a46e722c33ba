"""Measure the planar push tasks and draw them.

python studies/env_report.py [--episodes-per-region 25] [--out benchmarks/results/env_report.json]

- expert success per region (8 sectors x N episodes) for every variant, and the data symmetry-breaking ratio;
- env steps/s without and with an 88 px image;
- demo generation episodes/s (low-dim with 1 and 2 workers, 88 px images with 2 workers);
- docs/img/push_variants.png: each variant at the same orientation (the pillar's sector), rendered by the env,
  with the expert's puck (red) and pusher (blue) paths drawn over it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.data.symmetry_map import symmetry_breaking_map  # noqa: E402
from equidiff_relaxed.demos.generate import GenerateConfig, generate  # noqa: E402
from equidiff_relaxed.demos.report import expert_success_by_region  # noqa: E402
from equidiff_relaxed.demos.rollout import run_expert_episode  # noqa: E402
from equidiff_relaxed.envs.planar_push import PlanarPushEnv  # noqa: E402
from equidiff_relaxed.envs.push_scene import VARIANTS  # noqa: E402
from equidiff_relaxed.envs.registry import make_env, make_expert  # noqa: E402

ENV_NAMES = tuple(VARIANTS)  # the push variants


def steps_per_second(image_size: int | None, steps: int) -> float:
    env = make_env("push-pillar", image_size=image_size, max_steps=10**9)
    obs, _ = env.reset(seed=0)
    env.step(obs["puck_pos"])  # renderer start-up not counted
    t0 = time.perf_counter()
    for _ in range(steps):
        obs, *_ = env.step(obs["puck_pos"])
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def generation_rate(tmp: Path, episodes: int, workers: int, image_size: int | None) -> float:
    t0 = time.perf_counter()
    generate(GenerateConfig("push-pillar", episodes=episodes, image_size=image_size), tmp / f"g{workers}{image_size}.zarr",
             workers=workers, progress=False)
    return episodes / (time.perf_counter() - t0)


def to_pixels(env: PlanarPushEnv, xy: np.ndarray, size: int) -> np.ndarray:
    """World xy on the table -> (col, row) pixel coordinates of the 'top' camera."""
    fovy = math.radians(env.model.cam_fovy[0])
    height = env.model.cam_pos[0][2]
    f = (size / 2) / math.tan(fovy / 2)
    return np.stack([size / 2 + f * xy[:, 0] / height, size / 2 - f * xy[:, 1] / height], axis=1)


def draw_variants(path: Path, size: int = 320) -> None:
    fig, axes = plt.subplots(1, len(ENV_NAMES), figsize=(4 * len(ENV_NAMES), 4.3))
    for ax, name in zip(axes, ENV_NAMES):
        env = make_env(name, render_mode="rgb_array", render_size=size)
        theta = env.geom.pillar_angle + 0.1
        env.reset(seed=0, options={"theta": theta})
        frame = env.render()
        ep = run_expert_episode(env, make_expert(name, env), [0], theta=theta)
        ax.imshow(frame)
        for key, color in (("puck_pos", "red"), ("pusher_pos", "blue")):
            px = to_pixels(env, ep.data[key].astype(np.float64), size)
            ax.plot(px[:, 0], px[:, 1], color=color, lw=1.5)
        ax.set_title(f"{name}: {ep.length} steps", fontsize=11)
        ax.axis("off")
        env.close()
    fig.suptitle("theta in the pillar's sector; expert puck path (red) and pusher path (blue)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes-per-region", type=int, default=25)
    parser.add_argument("--out", default="benchmarks/results/env_report.json")
    parser.add_argument("--figure", default="docs/img/push_variants.png")
    args = parser.parse_args(argv)
    results: dict = {"hardware": f"{platform.machine()}, {os.cpu_count()} cores", "expert": {}}
    for name in ENV_NAMES:
        t0 = time.perf_counter()
        rows, buf = expert_success_by_region(name, args.episodes_per_region, progress=False)
        dt = time.perf_counter() - t0
        results["expert"][name] = {
            "episodes": sum(r.episodes for r in rows),
            "success_per_region": [r.rate for r in rows],
            "mean_steps_per_region": [r.mean_length for r in rows],
            "symmetry_breaking_ratio": [r.ratio for r in symmetry_breaking_map(buf, 8)],
            "expert_episodes_per_s": sum(r.episodes for r in rows) / dt,
        }
    results["env_steps_per_s"] = {"low_dim": steps_per_second(None, 3000), "image_88": steps_per_second(88, 1000)}
    with tempfile.TemporaryDirectory() as d:
        results["generation_episodes_per_s"] = {
            "low_dim_workers_1": generation_rate(Path(d), 200, 1, None),
            "low_dim_workers_2": generation_rate(Path(d), 200, 2, None),
            "image_88_workers_2": generation_rate(Path(d), 60, 2, 88),
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    draw_variants(Path(args.figure))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
