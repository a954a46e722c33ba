"""How clonable the push expert's data are: hidden state and recovery content, per orientation region.

python studies/expert_data.py [--env push-pillar] [--episodes-per-region 10] [--out benchmarks/results/expert_data.json]

- hidden-state gap: per step, |recorded action - a fresh expert's action on the same observation| (metres). A
  memoryless expert has gap 0 by construction; the older plan-once expert follows a plan made at the episode start.
- recovery share: steps at which the expert re-aligns behind the puck after it had started pushing, for the old
  data (plan-once expert, no perturbation, 5 mm label noise) and the new default (memoryless expert, DART: 1 cm
  execution noise + 3-step 3 cm bursts).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.envs.perturb import PerturbConfig
from equidiff_relaxed.demos.rollout import draw_theta, run_expert_episode
from equidiff_relaxed.envs import make_env, make_expert

KEYS = ("pusher_pos", "puck_pos", "goal_pos")


def gap_per_region(env_name: str, memoryless: bool, per_region: int, regions: int = 8) -> list[float]:
    env = make_env(env_name)
    expert = make_expert(env_name, env, memoryless=memoryless)
    fresh = make_expert(env_name, env, memoryless=memoryless)
    out = []
    for k in range(regions):
        gaps = []
        for e in range(per_region):
            rng = np.random.default_rng([11, k, e])
            ep = run_expert_episode(env, expert, [11, k, e], theta=draw_theta(rng, regions, k))
            for t in range(ep.length):
                fresh.reset()
                gaps.append(float(np.linalg.norm(fresh.act({key: ep.data[key][t] for key in KEYS}) - ep.data["action"][t])))
        out.append(float(np.median(gaps)))
    env.close()
    return out


def recovery(env_name: str, perturb: PerturbConfig, noise: float, memoryless: bool, per_region: int,
             regions: int = 8) -> dict:
    env = make_env(env_name)
    expert = make_expert(env_name, env, noise, memoryless=memoryless)
    steps = rec = wins = 0
    for k in range(regions):
        for e in range(per_region):
            rng = np.random.default_rng([12, k, e])
            ep = run_expert_episode(env, expert, [12, k, e], theta=draw_theta(rng, regions, k), perturb=perturb)
            wins += ep.success
            steps += ep.length
            rec += ep.recovery_steps
    env.close()
    n = regions * per_region
    return {"expert_success": wins / n, "mean_steps": steps / n, "recovery_share": rec / steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="push-pillar")
    parser.add_argument("--episodes-per-region", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/expert_data.json")
    args = parser.parse_args(argv)
    n = args.episodes_per_region
    result = {
        "env": args.env, "episodes_per_region": n,
        "median_gap_m_per_region": {"plan_once": gap_per_region(args.env, False, n),
                                    "memoryless": gap_per_region(args.env, True, n)},
        "recovery": {"old data (plan-once expert, 5 mm label noise, no perturbation)":
                     recovery(args.env, PerturbConfig(), 0.005, False, n),
                     "new default (memoryless expert, DART 1 cm + bursts)":
                     recovery(args.env, PerturbConfig(0.01, 0.1, 3, 0.03), 0.0, True, n)},
    }
    for name, gaps in result["median_gap_m_per_region"].items():
        print(f"{name:>10}: median |action - fresh action| per region (cm): " + " ".join(f"{100 * g:.2f}" for g in gaps))
    for name, r in result["recovery"].items():
        print(f"{name}: expert success {r['expert_success']:.3f}, mean steps {r['mean_steps']:.1f}, "
              f"recovery share {r['recovery_share']:.1%}")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
