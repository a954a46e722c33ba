"""Model size and speed per family: parameters, training samples/s, inference ms per action chunk.

python benchmarks/speed.py [--device cpu|cuda] [--out benchmarks/results/speed_cpu.json]

Models are built from the shipped configs (configs/push_<family>.yaml, configs/push_image_<family>.yaml) on synthetic
data of the push-pillar layout (low-dim: 3 x pos2 obs, pos2 action; image: + 88 px RGB). Training: batch 64
(32 for images), AdamW steps, after 2 warm-up steps. Inference: batch 1, one action chunk (DDIM steps of the config)
in three modes for the equivariant families:
  no_cache  train mode: escnn expands its steerable basis into matrices on every call;
  cached    eval mode (what evaluation uses): escnn expands once and keeps the matrices;
  exported  equidiff_relaxed.nn.export.export_policy: every escnn layer folded into plain nn.Linear / nn.Conv2d
            (relaxed banks summed into one matrix).
Ratios are to the plain model measured in the same run (train: samples/s ratio, higher is faster; inference: time
ratio, lower is faster).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

warnings.filterwarnings("ignore")

from equidiff_relaxed.demos.generate import push_shape_meta  # noqa: E402
from equidiff_relaxed.nn.export import export_policy  # noqa: E402
from equidiff_relaxed.policy.lightning_module import DiffusionPolicyModule  # noqa: E402

FAMILIES = ("plain", "equi", "relaxed", "residual")


def build(config: Path, family: str, image: bool, device: str):
    model_cfg = yaml.safe_load(config.read_text())["model"]
    model_cfg["model"] = family
    meta = push_shape_meta(88 if image else None)
    module = DiffusionPolicyModule(**model_cfg, shape_meta=meta.to_dict(), symmetry_center=[0.0, 0.0])
    policy = module.policy
    rng = np.random.default_rng(0)
    policy.fit_normalizer({k: rng.uniform(-0.4, 0.4, size=(500, 2)) for k in [*meta.low_dim_keys, "action"]})
    return policy.to(device), meta


def batch(meta, b: int, device: str) -> dict:
    obs = {k: torch.rand(b, 2, 2, device=device) * 0.4 for k in meta.low_dim_keys}
    for k in meta.rgb_keys:
        obs[k] = torch.rand(b, 2, 3, 88, 88, device=device)
    return {"obs": obs, "action": torch.rand(b, 16, 2, device=device) * 0.4}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{platform.machine()} CPU"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_rate(policy, meta, b: int, device: str, steps: int) -> float:
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    data = batch(meta, b, device)
    for i in range(steps + 2):
        if i == 2:
            sync(device)
            t0 = time.perf_counter()
        loss = policy.compute_loss(data) + policy.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return steps * b / (time.perf_counter() - t0)


@torch.no_grad()
def infer_ms(policy, meta, device: str, mode: str, reps: int) -> float:
    """Milliseconds per action chunk, batch 1, in ``mode`` no_cache | cached | exported."""
    policy.train(mode == "no_cache")
    if mode == "exported":
        policy = export_policy(policy)
    obs = batch(meta, 1, device)["obs"]
    policy.predict_action(obs)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        policy.predict_action(obs)
    sync(device)
    return (time.perf_counter() - t0) / reps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None)
    parser.add_argument("--no-images", action="store_true")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    out = Path(args.out or f"benchmarks/results/speed_{args.device}.json")
    hw = torch.cuda.get_device_name() if args.device == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    results: dict = {"hardware": hw, "torch": torch.__version__, "command": "python benchmarks/speed.py "
                     + " ".join(sys.argv[1:]), "low_dim": {}, "image": {}}
    for image in ([False] if args.no_images else [False, True]):
        section = results["image" if image else "low_dim"]
        for family in FAMILIES if not image else ("plain", "equi", "relaxed"):
            cfg = Path(f"configs/push_image_{family}.yaml" if image else f"configs/push_{family}.yaml")
            policy, meta = build(cfg, family, image, args.device)
            row = {"params": sum(p.numel() for p in policy.parameters()),
                   "train_samples_per_s": train_rate(policy, meta, 32 if image else 64, args.device, 4 if image else 10),
                   "infer_ms_per_chunk": infer_ms(policy, meta, args.device, "cached", 5 if image else 20)}
            if family != "plain":
                row["infer_ms_per_chunk_no_cache"] = infer_ms(policy, meta, args.device, "no_cache", 3 if image else 10)
                row["infer_ms_per_chunk_exported"] = infer_ms(policy, meta, args.device, "exported", 5 if image else 20)
            section[family] = row
            print(("image " if image else "low-dim ") + family, {k: round(v, 2) for k, v in row.items()}, flush=True)
        plain = section["plain"]
        for row in section.values():
            row["train_speed_vs_plain"] = row["train_samples_per_s"] / plain["train_samples_per_s"]
            for mode in ("", "_no_cache", "_exported"):
                if f"infer_ms_per_chunk{mode}" in row:
                    row[f"infer_time{mode}_vs_plain"] = row[f"infer_ms_per_chunk{mode}"] / plain["infer_ms_per_chunk"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
