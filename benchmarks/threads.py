"""Wall time of the quickstart (generate -> train -> evaluate) under one torch-thread setting, for the thread default.

python benchmarks/threads.py --label after [--threads auto|N] [--repo PATH] [--steps 4000] [--episodes_per_region 25]
                             [--busy] [--out FILE.json]

Runs the earlier push-pillar quickstart's three commands as subprocesses of ``--repo``'s checkout (default: this
one) on a fresh folder and records each command's wall time. ``--threads``: ``auto`` leaves the commands' own thread setting
(EQUIDIFF_THREADS and OMP_NUM_THREADS unset); a number sets both. Run it on an idle machine; ``--repo`` pointed at
a worktree of an earlier commit measures the code before a change in the same way. ``--busy``: another job shares
the machine meanwhile (a process multiplying matrices with torch's default threads), the case the per-process
thread rule is for. Results are appended to ``--out`` (default benchmarks/results/threads_cpu.json), one entry per
label.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def commands(repo: Path, work: Path, steps: int, episodes_per_region: int) -> list[tuple[str, list[str]]]:
    data = work / "push_pillar_dart.zarr"
    run = work / "demo"
    py = sys.executable
    config = repo / "configs/legacy/demo_push_pillar.yaml"
    if not config.exists():  # a checkout from before make demo moved to push-wall
        config = repo / "configs/demo.yaml"
    return [
        ("generate", [py, str(repo / "datasets/generate.py"), "--env", "push-pillar", "--episodes", "200",
                      "--workers", "2", "--out", str(data), "--quiet"]),
        ("train", [py, str(repo / "train.py"), "--config", str(config),
                   "--data.dataset_path", str(data), "--out", str(run), "--trainer.max_steps", str(steps)]),
        ("eval", [py, str(repo / "eval.py"), "--checkpoint", str(run / "checkpoints/last.ckpt"),
                  "--episodes_per_region", str(episodes_per_region), "--n_envs", "2", "--out", str(run / "eval"), "--quiet"]),
    ]


BUSY = ("import torch\n"
        "a = torch.randn(512, 512)\n"
        "while True:\n"
        "    a = torch.tanh(a @ a) \n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", required=True)
    parser.add_argument("--threads", default="auto")
    parser.add_argument("--repo", default=str(REPO))
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--episodes_per_region", type=int, default=25)
    parser.add_argument("--busy", action="store_true", help="run next to another job (a torch matmul loop)")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/threads_cpu.json"))
    args = parser.parse_args()
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "EQUIDIFF_THREADS")}
    env = dict(clean)
    if args.threads != "auto":
        env.update(OMP_NUM_THREADS=args.threads, MKL_NUM_THREADS=args.threads, EQUIDIFF_THREADS=args.threads)
    times: dict[str, float] = {}
    busy = subprocess.Popen([sys.executable, "-c", BUSY], env=clean) if args.busy else None
    try:
        measure(args, env, times)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    entry = {"label": args.label, "threads": args.threads, "steps": args.steps,
             "episodes_per_region": args.episodes_per_region, "busy": args.busy,
             "cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "seconds": times}
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else []
    results = [r for r in results if r.get("label") != args.label] + [entry]
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(entry))
    return 0


def measure(args: argparse.Namespace, env: dict[str, str], times: dict[str, float]) -> None:
    """Run the three commands one after the other, recording each one's wall seconds in ``times``."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in commands(Path(args.repo), Path(tmp), args.steps, args.episodes_per_region):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
            times[name] = round(time.perf_counter() - t0, 1)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"{name} failed with exit status {done.returncode}")
            if name == "eval":
                mean = [line for line in done.stdout.splitlines() if line.strip().startswith("mean")]
                times["eval_mean_line"] = mean[0].strip() if mean else ""  # type: ignore[assignment]
            print(f"{args.label}: {name} {times[name]} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
