"""Measure the robosuite tasks (needs the [robosuite] extra).

python studies/robosuite_report.py [--episodes-per-region 10] [--out benchmarks/results/robosuite_report.json]

- env steps/s of Lift and Stack (abs actions holding the pose; one process), and of Lift with one and two 84 px
  cameras;
- expert success per region (8 sectors) for lift and stack at r = 0.15 m (the shipped layouts), lift at
  r = 0.3 m (where the far side leaves the arm's reach) and lift with grasp symmetry 360 degrees (as for an object
  without rotational symmetry: the wrist must follow theta), with the data symmetry-breaking ratio of the expert's
  position and orientation actions and the range of the wrist joint (joint 7, limits +-2.897 rad);
- demo generation episodes/s with 1 and 2 workers (datasets/generate.py's code path, process start-up included).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.data.symmetry_map import action_subfields, symmetry_breaking_map
from equidiff_relaxed.demos.generate import GenerateConfig, generate
from equidiff_relaxed.demos.report import expert_success_by_region
from equidiff_relaxed.envs import make_env
from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d


def steps_per_second(task: str, steps: int = 400, cameras: tuple[str, ...] = ()) -> float:
    env = make_env(task, max_steps=10**9, cameras=cameras, image_size=84 if cameras else None)
    env.reset(seed=0)
    pos, rot = env.grip_pose()
    hold = np.concatenate([pos, matrix_to_rot6d(rot), [-1.0]])
    for _ in range(20):
        env.step(hold)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(hold)
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def expert_table(task: str, radius: float, episodes: int, grasp_symmetry: float = 90.0) -> dict:
    t0 = time.perf_counter()
    rows, buf = expert_success_by_region(task, episodes, 8, seed=0, progress=False,
                                         options={"radius": radius, "grasp_symmetry": grasp_symmetry})
    dt = time.perf_counter() - t0
    maps = {label: [r.ratio for r in symmetry_breaking_map(buf, 8, dims=dims)] for label, dims in action_subfields(buf)}
    return {"task": task, "radius": radius, "grasp_symmetry_deg": grasp_symmetry, "episodes_per_region": episodes,
            "seconds": dt, "wrist_joint_range_per_region": [list(r.extra.get("wrist_range", [])) for r in rows],
            "success_per_region": [r.rate for r in rows], "mean_steps_per_region": [r.mean_length for r in rows],
            "symmetry_breaking_ratio": maps}


def generation_rate(task: str, episodes: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generate(GenerateConfig(task, episodes=episodes, seed=0), Path(tmp) / "d.zarr", workers=workers,
                 progress=False)
        return episodes / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes-per-region", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/robosuite_report.json")
    args = parser.parse_args(argv)
    result = {"hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU",
              "steps_per_second": {t: steps_per_second(t) for t in ("lift", "stack")}}
    result["steps_per_second"]["lift_agentview84"] = steps_per_second("lift", 100, ("agentview",))
    result["steps_per_second"]["lift_agentview84_eye_in_hand84"] = steps_per_second(
        "lift", 100, ("agentview", "robot0_eye_in_hand"))
    print("env steps/s:", {k: round(v) for k, v in result["steps_per_second"].items()})
    result["experts"] = []
    for task, radius, sym in (("lift", 0.15, 90.0), ("stack", 0.15, 90.0), ("lift", 0.3, 90.0), ("lift", 0.15, 360.0)):
        row = expert_table(task, radius, args.episodes_per_region, sym)
        result["experts"].append(row)
        print(f"expert {task} r={radius} grasp symmetry {sym:.0f}: success per region",
              " ".join(f"{s:.2f}" for s in row["success_per_region"]),
              "| wrist joint range", " ".join(f"{lo:.2f}..{hi:.2f}" for lo, hi in row["wrist_joint_range_per_region"]),
              "| symmetry-breaking ratio", {k: " ".join(f"{x:.1f}" for x in v)
                                            for k, v in row["symmetry_breaking_ratio"].items()})
    result["generation_episodes_per_second"] = {
        f"{task}_workers{w}": generation_rate(task, 40, w) for task in ("lift", "stack") for w in (1, 2)}
    print("generation episodes/s:", {k: round(v, 2) for k, v in result["generation_episodes_per_second"].items()})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
