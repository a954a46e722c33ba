"""Why do the relaxation weights w_l(h) not move? Compare, per relaxed layer of a trained checkpoint, the part of the
data-loss gradient on w that would break symmetry (the mean gradient over batches minus its mean over group
elements) with the subgradient of the L1 regulariser alpha * sum_{g,h} |w(g) - w(h)| at w(g) = w(h), which is up to
alpha * 2 (N_cols - 1) per entry. While the first is smaller, the regulariser pins w at equality.

python studies/relaxation_gradient.py \
    --checkpoint benchmarks/results/regions_fast/push-pillar/runs/relaxed_n100_s0/last.ckpt \
    --dataset benchmarks/results/regions_fast/push-pillar/data.zarr --out benchmarks/results/relaxation_gradient.json
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from equidiff_relaxed.errors import UserError, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--dataset", required=True, help="the training data (zarr)")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--out", help="write the numbers as JSON here")
    args = parser.parse_args(argv)
    if args.batches < 1:
        raise UserError("--batches must be >= 1")
    import torch

    from equidiff_relaxed.data.atomic import atomic_write_text
    from equidiff_relaxed.train.datamodule import DemoDataModule
    from equidiff_relaxed.policy.checkpoint import load_checkpoint, policy_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    policy = policy_from_checkpoint(ckpt, args.checkpoint).train()
    data = {k: v for k, v in (ckpt.get("datamodule_hyper_parameters") or {}).items()
            if k in ("horizon", "n_obs_steps", "n_action_steps", "pad_after", "n_demos", "batch_size")}
    dm = DemoDataModule(args.dataset, seed=0, **data)
    dm.setup("fit")
    layers = policy.relaxed_layers()
    if not layers:
        raise UserError("the checkpoint has no relaxed layers", args.checkpoint)
    grads: dict[str, list] = {name: [] for name, _ in layers}
    generator = torch.Generator().manual_seed(0)
    for _, batch in zip(range(args.batches), dm.train_dataloader()):
        policy.zero_grad()
        policy.compute_loss(batch, generator).backward()
        for name, layer in layers:
            grads[name].append(layer.relax_weights.grad.clone())
    rows = []
    for name, layer in layers:
        g = torch.stack(grads[name])  # (batches, L, columns)
        mean = g.mean(0)
        breaking = float((mean - mean.mean(-1, keepdim=True)).abs().mean())
        columns = layer.relax_weights.shape[-1]
        rows.append({"layer": name, "grad_abs_per_batch": float(g.abs().mean()), "breaking_grad": breaking,
                     "penalty_subgradient": float(layer.alpha * 2 * (columns - 1)), "alpha": float(layer.alpha),
                     "w_spread": float(layer.relax_weights.detach().std(-1).mean())})
        r = rows[-1]
        print(f"{name:24s} symmetry-breaking gradient {r['breaking_grad']:.1e}  vs  L1 subgradient "
              f"{r['penalty_subgradient']:.1e}  (ratio {r['penalty_subgradient'] / max(breaking, 1e-30):.0f}x); "
              f"w spread {r['w_spread']:.1e}")
    if args.out:
        atomic_write_text(args.out, json.dumps({"checkpoint": args.checkpoint, "batches": args.batches,
                                                "layers": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
