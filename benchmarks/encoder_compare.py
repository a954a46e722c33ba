"""The equivariant agentview encoder against EquiDiff's encoder design, at the same input (76 x 76 RGB, C8).

python benchmarks/encoder_compare.py [--batch 8] [--threads 2] [--out benchmarks/results/encoder_compare_cpu.json]
                                   [--equidiff_width 128]
python benchmarks/encoder_compare.py --capacity --out benchmarks/results/capacity_image.json

Encoders (all escnn R2Conv stacks on rot2dOnR2(8), exact for quarter turns on the pixel grid):
  ours_pool    EquivariantImageNet, model.image_downsample pool (the recipe's default): 5x5 conv, 2x2 average pool,
               3x3 conv, 2x2 average pool, 3x3 conv, global average -> 16 regular fields
  ours_stride  EquivariantImageNet, model.image_downsample stride: two 4x4 stride-2 convs, a 3x3 conv, global average
  equidiff     EquiDiff's design as its paper and code describe it (model.image_encoder resnet): 5x5 stem without padding to 16 regular fields, two residual blocks per stage of
               16/32/64/128 fields with 2x2 max pooling between stages (72 -> 36 -> 18 -> 9), a 3x3 max pool and a
               final 3x3 conv to 1x1 -> 128 regular fields
Reported per encoder: parameters, multiply-accumulates per image (from the convolutions' shapes), output size,
forward+backward and forward-only ms per image (median of 5 timed repetitions after one warm-up), and the relative
quarter-turn equivariance error at initialisation. The profile (skip with --no_profile): the share of one training
step of the robomimic image recipe's equi policy (batch 32, To = 2: 64 agentview images) spent in the agentview
encoder's forward and backward, for each of our two downsampling modes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

import torch  # noqa: E402
from escnn import nn as enn  # noqa: E402

from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402
from equidiff_relaxed.nn.encoders import EquivariantImageNet  # noqa: E402
from equidiff_relaxed.nn.image_resnet import EquivariantResNet  # noqa: E402
from equidiff_relaxed.nn.relaxed_conv import RelaxedR2Conv  # noqa: E402
from equidiff_relaxed.symmetry.group import SymmetryGroup  # noqa: E402

SIDE, ORDER = 76, 8


def EquiDiffStyleEncoder(n_out: int = 128, order: int = ORDER) -> torch.nn.Module:  # noqa: N802 (a constructor)
    """EquiDiff's 76 px cyclic encoder design (the library's ``model.image_encoder resnet``): (M, 3, 76, 76) ->
    (M, n_out * N), regular fields."""
    return EquivariantResNet(3, order, n_out // 8)


def macs_per_image(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of every R2Conv for one image (output elements x input channels x kernel area)."""
    total = 0

    def hook(module: enn.R2Conv | RelaxedR2Conv, _inputs, output: enn.GeometricTensor) -> None:
        nonlocal total
        out = output.tensor
        kernel = (module.conv if isinstance(module, RelaxedR2Conv) else module).kernel_size
        total += out[0].numel() * module.in_type.size * kernel ** 2

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (enn.R2Conv, RelaxedR2Conv))]
    with torch.no_grad():
        model.eval()(x[:1])
    for h in handles:
        h.remove()
    return total


def plain_macs_per_image(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of every ``nn.Conv2d`` for one image."""
    total = 0

    def hook(module: torch.nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += output[0].numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model.eval()(x[:1])
    for h in handles:
        h.remove()
    return total


def capacity() -> dict[str, dict[str, float]]:
    """Parameters and multiply-accumulates per 76 px image of the agentview encoders the recipes can build: the plain
    CNN at ``model.image_width`` 16/32/64 and the strided equivariant encoder (exact, and relaxed with 2 banks) at
    ``model.image_fields`` 8/12/16/24, and the deep one (``model.image_encoder: deep``) at 8."""
    import functools

    from equidiff_relaxed.nn.encoders import PlainImageNet
    from equidiff_relaxed.nn.relaxed_conv import RelaxedR2Conv

    x = torch.rand(1, 3, SIDE, SIDE)
    rows: dict[str, dict[str, float]] = {}
    for width in (16, 32, 64):
        net = PlainImageNet(3, 64, width=width)
        rows[f"plain image_width {width}"] = {"parameters": sum(p.numel() for p in net.parameters()),
                                              "gmacs_per_image": plain_macs_per_image(net, x) / 1e9}
    for fields in (8, 12, 16, 24):
        for name, kwargs in (("equi", {}), ("relaxed_conv", {"conv": functools.partial(RelaxedR2Conv, banks=2)})):
            net = EquivariantImageNet(3, SymmetryGroup(ORDER), fields, downsample="stride", **kwargs)
            rows[f"{name} image_fields {fields}"] = equivariant_size(net, x)
    for name, kwargs in (("equi", {}), ("relaxed_conv", {"conv": functools.partial(RelaxedR2Conv, banks=2)})):
        net = EquivariantImageNet(3, SymmetryGroup(ORDER), 8, architecture="deep", side=SIDE, **kwargs)
        rows[f"{name} image_encoder deep, image_fields 8"] = equivariant_size(net, x)
    return rows


def equivariant_size(net: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """{"parameters", "gmacs_per_image"} of an equivariant image encoder on input ``x`` (1, C, H, W)."""
    return {"parameters": sum(p.numel() for p in net.parameters()), "gmacs_per_image": macs_per_image(net, x) / 1e9}


def median_ms(fn: Callable[[], None], reps: int = 5) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[reps // 2]


def quarter_turn_error(model: torch.nn.Module, x: torch.Tensor) -> float:
    """max |f(rot90 x) - rho(r) f(x)| / max |f(x)| for the regular output fields (a quarter turn shifts each
    field's N entries by N / 4)."""
    model.eval()
    with torch.no_grad():
        y = model(x).view(x.shape[0], -1, ORDER)
        y_rot = model(torch.rot90(x, 1, dims=(-2, -1))).view(x.shape[0], -1, ORDER)
    return float((y_rot - torch.roll(y, ORDER // 4, dims=-1)).abs().max() / y.abs().max())


def encoder_share(downsample: str, batch: int = 32) -> dict[str, float]:
    """ms of one AdamW training step of the robomimic image recipe's equi policy (``batch`` samples) and the share of
    it spent in the agentview encoder (forward and backward of its 2 * ``batch`` images)."""
    from benchmarks.speed import RECIPES, batch as make_batch, build
    from equidiff_relaxed.train.lightning_module import make_adamw

    policy, meta = build(RECIPES / "robomimic_image.yaml", "equi", True, "cpu", {"image_downsample": downsample},
                         "robomimic")
    policy.train()
    opt = make_adamw(policy.parameters(), 1e-4, 1e-6, torch.device("cpu"))
    data = make_batch(meta, batch, "cpu", policy.horizon)

    def step() -> None:
        loss = policy.compute_loss(data)
        opt.zero_grad()
        loss.backward()
        opt.step()

    encoder = next(m for m in policy.modules() if isinstance(m, EquivariantImageNet))
    images = data["obs"]["agentview_image"].flatten(0, 1)

    def encoder_step() -> None:
        encoder.zero_grad()
        encoder(images).sum().backward()

    step_ms, encoder_ms = median_ms(step), median_ms(encoder_step)
    return {"train_step_ms": step_ms, "agentview_encoder_ms": encoder_ms, "encoder_share": encoder_ms / step_ms}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="images per timed forward/backward")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default="benchmarks/results/encoder_compare_cpu.json")
    parser.add_argument("--no_profile", action="store_true", help="skip the encoder's share of a training step")
    parser.add_argument("--equidiff_width", type=int, default=128, help="EquiDiff's n_out (output regular fields)")
    parser.add_argument("--capacity", action="store_true",
                        help="only parameters and MACs of the recipes' agentview encoders at several widths (no timing)")
    args = parser.parse_args(argv)
    if args.equidiff_width < 8 or args.equidiff_width % 8:
        raise UserError(f"--equidiff_width must be a multiple of 8 (its stages have width / 8, / 4, / 2, / 1 fields), "
                        f"got {args.equidiff_width}")
    if args.capacity:
        command = "python benchmarks/encoder_compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
        write_json_atomic(Path(args.out), {"input": f"1 x 3 x {SIDE} x {SIDE}, C{ORDER}, strided equivariant encoder",
                                           "command": command, "encoders": capacity()})
        print(f"wrote {args.out}")
        return 0
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    group = SymmetryGroup(ORDER)
    encoders = {"ours_pool": EquivariantImageNet(3, group, 8, downsample="pool"),
                "ours_stride": EquivariantImageNet(3, group, 8, downsample="stride"),
                "equidiff": EquiDiffStyleEncoder(args.equidiff_width)}
    x = torch.rand(args.batch, 3, SIDE, SIDE)
    results: dict = {"input": f"{args.batch} x 3 x {SIDE} x {SIDE}, C{ORDER}", "threads": args.threads,
                     "torch": torch.__version__, "command": "python benchmarks/encoder_compare.py "
                     + " ".join(sys.argv[1:] if argv is None else argv), "encoders": {}}
    for name, model in encoders.items():
        def train_step(m: torch.nn.Module = model) -> None:
            m.train()
            m.zero_grad()
            m(x).sum().backward()

        def forward(m: torch.nn.Module = model) -> None:
            m.eval()
            with torch.no_grad():
                m(x)

        row = {"parameters": sum(p.numel() for p in model.parameters()),
               "macs_per_image": macs_per_image(model, x),
               "output_dim": int(model.eval()(x[:1]).shape[-1]),
               "train_ms_per_image": median_ms(train_step) / args.batch,
               "infer_ms_per_image": median_ms(forward) / args.batch,
               "quarter_turn_error": quarter_turn_error(model, x[:2])}
        results["encoders"][name] = row
        print(name, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    if not args.no_profile:
        results["profile"] = {mode: encoder_share(mode) for mode in ("pool", "stride")}
        print("profile", results["profile"], flush=True)
    base = results["encoders"]["ours_pool"]
    for row in results["encoders"].values():
        row["train_time_vs_ours_pool"] = row["train_ms_per_image"] / base["train_ms_per_image"]
        row["macs_vs_ours_pool"] = row["macs_per_image"] / base["macs_per_image"]
    write_json_atomic(Path(args.out), results)
    print(f"wrote {args.out}")
    return 0


def write_json_atomic(out: Path, payload: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(out)


if __name__ == "__main__":
    sys.exit(run_cli(main))
