"""Model size and speed per family: parameters, training samples/s, inference ms per action chunk.

python benchmarks/speed.py [--device cpu|cuda] [--out benchmarks/results/speed_cpu.json] [--no-images]
                           [--mlp-only] [--no-mlp] [--ddim-steps 8] [--families plain,equi] [--sections a,b]
                           [--quick] [--threads 2]

Every registered family (or those of --families) is built from the shipped recipes, the family chosen as
--model.model chooses it, on synthetic data of the push-pillar layout (low-dim: 3 x pos2 obs, pos2 action;
image: + 88 px RGB). Sections:
  low_dim_mlp   configs/push.yaml (the push recipe: MLP denoiser, T=8)
  low_dim_unet  the same with the 1D U-Net denoiser (down_dims [32, 64, 128] per group copy), to compare with the MLP
  image         configs/push_image.yaml (C_N families; images have no reflection action, so no D_N family)
  image_stride  the same with model.image_downsample stride (the strided equivariant image encoder)
  robomimic_image  configs/robomimic_image.yaml on a robomimic image layout: agentview (rep image) and eye-in-hand
                (rep camera_inhand) at 84 px cropped to 76, eef pos3 + quat, gripper, 10-D absolute actions
  robomimic_image_stride  the same with model.image_downsample stride (the strided equivariant agentview encoder)
Training: batch 64 (32 for images), steps of the training optimizer (AdamW, fused on CPU/CUDA) after 3 warm-up
steps, the median rate of 5 timed chunks of 10 steps (2 for images).
Inference: batch 1, one action chunk (DDIM steps of the recipe) in three modes for the equivariant families:
  no_cache  train mode: escnn expands its steerable basis into matrices (and relaxed banks are folded) on every call;
  cached    eval mode (what evaluation uses): every group-linear layer builds its matrix once and keeps it;
  exported  equidiff_relaxed.nn.export.export_policy: every escnn layer folded into plain nn.Linear / nn.Conv2d
            (relaxed banks summed into one matrix).
Ratios are to the plain and to the equi model measured in the same run (train: samples/s ratio, higher is faster;
inference: time ratio, lower is faster); low_dim_mlp rows also carry mlp_train_speed_vs_unet and
mlp_infer_time_vs_unet against the same family's low_dim_unet row. --mlp-only measures low_dim_mlp only, --no-mlp
skips it, --sections names the sections to measure; --quick takes one step and one repetition of everything (a smoke run of every family, not a measurement).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

import torch  # noqa: E402
import yaml  # noqa: E402

from equidiff_relaxed.data.shape_meta import ShapeMeta  # noqa: E402
from equidiff_relaxed.envs.planar_push import push_shape_meta_dict  # noqa: E402
from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402
from equidiff_relaxed.nn.export import export_policy  # noqa: E402
from equidiff_relaxed.nn.group_linear import group_linear_layers  # noqa: E402
from equidiff_relaxed.policy.families import family_names, get_family  # noqa: E402
from equidiff_relaxed.policy.families.cause import CauseFamily  # noqa: E402
from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule, make_adamw  # noqa: E402

RECIPES = Path(__file__).resolve().parents[1] / "configs"
UNET = {"denoiser": "unet", "down_dims": [32, 64, 128]}
# (section, image?, recipe, model overrides, observation layout)
SECTIONS = (("low_dim_unet", False, "push.yaml", UNET, "push"), ("low_dim_mlp", False, "push.yaml", {}, "push"),
            ("image", True, "push_image.yaml", {}, "push"),
            ("image_stride", True, "push_image.yaml", {"image_downsample": "stride"}, "push"),
            ("robomimic_image", True, "robomimic_image.yaml", {}, "robomimic"),
            ("robomimic_image_stride", True, "robomimic_image.yaml", {"image_downsample": "stride"}, "robomimic"))
# A robomimic / MimicGen image dataset as configs/robomimic_image.yaml reads it (84 px, absolute 10-D actions)
ROBOMIMIC_IMAGE_META = {"obs": {
    "agentview_image": {"shape": [3, 84, 84], "type": "rgb", "rep": "image"},
    "robot0_eye_in_hand_image": {"shape": [3, 84, 84], "type": "rgb", "rep": "camera_inhand"},
    "robot0_eef_pos": {"shape": [3], "rep": "pos3"}, "robot0_eef_quat": {"shape": [4], "rep": "quat"},
    "robot0_gripper_qpos": {"shape": [2], "rep": "scalar"}}, "action": {"shape": [10], "rep": "pos3+rot6d+scalar"}}


def build(recipe: Path, family: str, image: bool, device: str, overrides: dict | None = None,
          layout: str = "push"):
    """The policy of ``recipe``'s model section with ``model: family`` (and ``overrides``), for synthetic data of
    ``layout`` (push: the push-pillar fields, + an 88 px top-down image; robomimic: :data:`ROBOMIMIC_IMAGE_META`)."""
    cfg = yaml.safe_load(recipe.read_text())
    linked = {k: cfg["data"][k] for k in ("horizon", "n_obs_steps", "n_action_steps")}
    own = (cfg.get("families") or {}).get(family, {})  # the recipe's options for this family
    model_cfg = {**cfg["model"], **own, **linked, **(overrides or {}), "model": family}
    meta_dict = ROBOMIMIC_IMAGE_META if layout == "robomimic" else push_shape_meta_dict(88 if image else None)
    if isinstance(get_family(family), CauseFamily):  # fed the cause of the break: push-wall's wall, at full strength
        meta_dict["breaking"] = {"wall": {"shape": [4], "rep": "pos2+vec2", "value": [-0.073, 0.176, -0.111, -0.046]}}
    meta = ShapeMeta.from_dict(meta_dict)
    module = DiffusionPolicyModule(**model_cfg, shape_meta=meta.to_dict(), symmetry_center=[0.0, 0.0])
    policy = module.policy
    rng = np.random.default_rng(0)
    dims = {k: meta.obs[k].shape[0] for k in meta.low_dim_keys} | {"action": meta.action.shape[0]}
    policy.fit_normalizer({k: rng.uniform(-0.4, 0.4, size=(500, d)) for k, d in dims.items()})
    return policy.to(device), meta


def batch(meta, b: int, device: str, horizon: int = 16) -> dict:
    obs = {k: torch.rand(b, 2, meta.obs[k].shape[0], device=device) * 0.4 for k in meta.low_dim_keys}
    for k in meta.rgb_keys:
        obs[k] = torch.rand(b, 2, *meta.obs[k].shape, device=device)
    return {"obs": obs, "action": torch.rand(b, horizon, meta.action.shape[0], device=device) * 0.4}


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


def train_rate(policy, meta, b: int, device: str, steps: int, chunks: int = 5) -> float:
    """Training samples/s: AdamW steps on one fixed batch after 3 warm-up steps (1 for a one-step run), timed in
    ``chunks`` chunks of ``steps`` steps; the median chunk's rate (robust to a background process stealing a core
    for a moment)."""
    policy.train()
    opt = make_adamw(policy.parameters(), 1e-4, 1e-6, torch.device(device))  # the optimizer train.py uses
    data = batch(meta, b, device, policy.horizon)

    def step() -> None:
        loss = policy.compute_loss(data) + policy.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3 if steps > 1 else 1):
        step()
    rates = []
    for _ in range(chunks):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        rates.append(steps * b / (time.perf_counter() - t0))
    return float(np.median(rates))


@torch.no_grad()
def infer_ms(policy, meta, device: str, mode: str, reps: int, ddim_steps: int | None = None) -> float:
    """Milliseconds per action chunk, batch 1, in ``mode`` no_cache | cached | exported."""
    policy.train(mode == "no_cache")
    if mode == "exported":
        policy = export_policy(policy)
    obs = batch(meta, 1, device)["obs"]
    policy.predict_action(obs, ddim_steps=ddim_steps)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        policy.predict_action(obs, ddim_steps=ddim_steps)
    sync(device)
    return (time.perf_counter() - t0) / reps * 1000


def measure(policy, meta, family: str, image: bool, device: str, ddim_steps: int | None, quick: bool = False) -> dict:
    """Parameters, training samples/s and inference ms per chunk (cached; no_cache and exported for the symmetric
    families). ``quick``: one step and one repetition of each (a smoke run, not a measurement)."""
    b = 32 if image else 64
    steps, chunks = (1, 1) if quick else (2 if image else 10, 5)
    reps = (lambda n: 1) if quick else (lambda n: n)
    row = {"params": sum(p.numel() for p in policy.parameters()),
           "train_samples_per_s": train_rate(policy, meta, 4 if quick else b, device, steps, chunks),
           "infer_ms_per_chunk": infer_ms(policy, meta, device, "cached", reps(5 if image else 20), ddim_steps)}
    if group_linear_layers(policy):  # escnn layers: also without the folded-matrix cache, and exported
        row["infer_ms_per_chunk_no_cache"] = infer_ms(policy, meta, device, "no_cache", reps(3 if image else 10),
                                                      ddim_steps)
        row["infer_ms_per_chunk_exported"] = infer_ms(policy, meta, device, "exported", reps(5 if image else 20),
                                                      ddim_steps)
    return row


def ratios(section: dict) -> None:
    """Each row's speed and inference-time ratios to the plain and the equi rows of its section."""
    for ref in ("plain", "equi"):
        base = section.get(ref)
        if base is None:
            continue
        for row in section.values():
            if "skipped" in row:
                continue
            row[f"train_speed_vs_{ref}"] = row["train_samples_per_s"] / base["train_samples_per_s"]
            for mode in ("", "_no_cache", "_exported"):
                if f"infer_ms_per_chunk{mode}" in row:
                    row[f"infer_time{mode}_vs_{ref}"] = row[f"infer_ms_per_chunk{mode}"] / base["infer_ms_per_chunk"]


def print_mlp_summary(results: dict) -> None:
    """One line per low-dim family: U-Net vs MLP training samples/s and ms per chunk (cached, exported)."""

    def cell(value: float | None, width: int, digits: int) -> str:
        return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

    header = ["family", "unet smp/s", "mlp smp/s", "ratio", "unet ms", "mlp ms", "mlp exp ms"]
    print("\n" + f"{header[0]:<16} " + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], (10, 10, 6, 8, 7, 10))))
    for family, row in results["low_dim_mlp"].items():
        if "skipped" in row:
            continue
        unet = results.get("low_dim_unet", {}).get(family, {})
        print(f"{family:<16} {cell(unet.get('train_samples_per_s'), 10, 0)} {cell(row['train_samples_per_s'], 10, 0)} "
              f"{cell(row.get('mlp_train_speed_vs_unet'), 6, 1)} {cell(unet.get('infer_ms_per_chunk'), 8, 1)} "
              f"{cell(row['infer_ms_per_chunk'], 7, 1)} {cell(row.get('infer_ms_per_chunk_exported'), 10, 1)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="results JSON (default benchmarks/results/speed_<device>.json)")
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--mlp-only", action="store_true", help="only the low-dim MLP-denoiser models")
    parser.add_argument("--no-mlp", action="store_true", help="skip the MLP-denoiser models")
    parser.add_argument("--ddim-steps", type=int, default=None, help="DDIM steps per chunk (default: the recipe's)")
    parser.add_argument("--families", help="comma-separated families (default: every registered one)")
    parser.add_argument("--sections", help="comma-separated sections (default: all, as the flags above leave them)")
    parser.add_argument("--quick", action="store_true", help="one step / repetition of each: a smoke run")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: 2, or fewer cores)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.mlp_only and args.no_mlp:
        raise UserError("--mlp-only and --no-mlp exclude each other")
    families = [f.strip() for f in args.families.split(",")] if args.families else list(family_names())
    for family in families:
        try:
            get_family(family)
        except ValueError as err:
            raise UserError(str(err)) from None
    if args.device == "cpu":
        torch.set_num_threads(args.threads or min(2, os.cpu_count() or 1))
    out = Path(args.out or f"benchmarks/results/speed_{args.device}.json")
    hw = torch.cuda.get_device_name() if args.device == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    results: dict = {"hardware": hw, "torch": torch.__version__, "command": "python benchmarks/speed.py "
                     + " ".join(sys.argv[1:] if argv is None else argv), "ddim_steps": args.ddim_steps or "recipe",
                     "quick": args.quick}
    wanted = {s.strip() for s in args.sections.split(",")} if args.sections else None
    unknown = sorted((wanted or set()) - {s[0] for s in SECTIONS})
    if unknown:
        raise UserError(f"unknown section(s) {', '.join(unknown)} (known: {', '.join(s[0] for s in SECTIONS)})")
    for name, image, recipe, overrides, layout in SECTIONS:
        if (args.mlp_only and name != "low_dim_mlp") or (args.no_mlp and name == "low_dim_mlp") or (
                image and args.no_images) or (wanted is not None and name not in wanted):
            continue
        section = results.setdefault(name, {})
        for family in families:
            if image and get_family(family).reflections:
                continue  # images carry no reflection action (D_N families are low-dim only)
            if not image and get_family(family).needs_top_down_images:
                section[family] = {"skipped": f"{family} relaxes image encoders: low-dim data have none"}
                print(f"{name} {family} skipped: {section[family]['skipped']}", flush=True)
                continue
            try:
                policy, meta = build(RECIPES / recipe, family, image, args.device, overrides, layout)
            except (ValueError, UserError) as err:
                if not image:
                    raise
                section[family] = {"skipped": str(err).split(": ", 1)[-1]}  # a family that takes no images
                print(f"{name} {family} skipped: {section[family]['skipped']}", flush=True)
                continue
            row = section[family] = measure(policy, meta, family, image, args.device, args.ddim_steps, args.quick)
            print(f"{name} {family}", {k: round(v, 2) for k, v in row.items()}, flush=True)
        ratios(section)
    for family, row in results.get("low_dim_mlp", {}).items():
        unet = results.get("low_dim_unet", {}).get(family)
        if unet and "skipped" not in row and "skipped" not in unet:
            row["mlp_train_speed_vs_unet"] = row["train_samples_per_s"] / unet["train_samples_per_s"]
            row["mlp_infer_time_vs_unet"] = row["infer_ms_per_chunk"] / unet["infer_ms_per_chunk"]
    if "low_dim_mlp" in results:
        print_mlp_summary(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
