"""Measure the data layer: sequence-sampler throughput and robomimic conversion rate.

python benchmarks/data_throughput.py [--episodes 100] [--out benchmarks/results/data_throughput.json]

Sampler: a synthetic low-dim push dataset (pusher_pos, puck_pos, action; ~150 steps/episode), T=16, To=2, Ta=8,
read in memory and lazily from a directory store; raw ``sample()`` calls and batch-64 DataLoader iteration with
0 and 2 workers. Conversion: a synthetic robomimic HDF5 (low-dim, and with one 84x84 RGB camera).
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
import torch

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.train.datamodule import DemoDataModule
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.envs.robosuite.robomimic_hdf5 import convert_robomimic
from equidiff_relaxed.data.sampler import SequenceSampler
from equidiff_relaxed.data.synthetic import make_push_buffer, write_robomimic_hdf5


def time_sampler(buf: ReplayBuffer, in_memory: bool, n: int = 20000) -> float:
    keys = ["pusher_pos", "puck_pos"]
    arrays = buf.load_arrays([*keys, "action"]) if in_memory else {k: buf.data[k] for k in [*keys, "action"]}
    s = SequenceSampler(arrays, buf.episode_ends, 16, 2, 8, keys)
    idx = np.random.default_rng(0).integers(0, len(s), size=n)
    t0 = time.perf_counter()
    for i in idx:
        s.sample(int(i))
    return n / (time.perf_counter() - t0)


def time_loader(path: str, workers: int, batches: int = 100) -> float:
    dm = DemoDataModule(path, batch_size=64, num_workers=workers, persistent_workers=workers > 0)
    dm.setup()
    it = iter(dm.train_dataloader())
    next(it)  # start-up (worker spawn) not counted
    t0, count = time.perf_counter(), 0
    for _ in range(batches):
        try:
            b = next(it)
        except StopIteration:
            it = iter(dm.train_dataloader())
            b = next(it)
        count += len(b["action"])
    return count / (time.perf_counter() - t0)


def time_conversion(tmp: Path, episodes: int, image_size: int | None) -> dict[str, float]:
    lengths = [150] * episodes
    src = tmp / f"src_{image_size}.hdf5"
    write_robomimic_hdf5(src, lengths, image_size=image_size)
    out = {}
    for name in ("conv.zarr", "conv.zarr.zip"):
        times = []
        for _ in range(3):  # best of 3
            t0 = time.perf_counter()
            convert_robomimic(src, tmp / name, progress=False, overwrite=True)
            times.append(time.perf_counter() - t0)
        dt = min(times)
        out[name.split(".", 1)[1]] = {"steps_per_s": sum(lengths) / dt, "demos_per_s": episodes / dt,
                                      "input_MB": src.stat().st_size / 1e6}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results/data_throughput.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    results: dict = {"hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                     "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rng = np.random.default_rng(0)
        lengths = rng.integers(120, 180, size=args.episodes).tolist()
        buf = make_push_buffer(args.episodes, lengths=lengths, seed=0)
        path = str(buf.save(tmp / "push.zarr"))
        disk = ReplayBuffer.open(path)
        results["dataset"] = {"episodes": args.episodes, "steps": int(sum(lengths))}
        results["conversion"] = {"low_dim": time_conversion(tmp, 50, None), "rgb_84": time_conversion(tmp, 50, 84)}
        results["sampler_samples_per_s"] = {"in_memory": time_sampler(buf, True), "lazy_directory": time_sampler(disk, False, 3000)}
        results["dataloader_samples_per_s"] = {f"workers_{w}": time_loader(path, w) for w in (0, 2)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
