"""Training and inference speed of this checkout against an earlier commit, on the same machine in one run.

python benchmarks/speed_vs_commit.py --ref 726a643 [--base_section robomimic_image]
                                     [--sections robomimic_image,robomimic_image_stride]
                                     [--families plain,equi,relaxed] [--threads 1] [--quick] [--out FILE]

The earlier commit is checked out into a temporary git worktree (removed afterwards); each tree's own
``benchmarks/speed.py`` then measures in a fresh process pinned to ``--threads`` torch threads (older versions of
speed.py, which had no --threads, are pinned from outside), the earlier tree first (``--base_section`` only), then
this one (every one of ``--sections``, each compared with the earlier tree's base section: a section of this
checkout may be a variant, e.g. a newer model option, of the earlier one's). Besides the policies, each tree's
equivariant agentview encoder (``EquivariantImageNet`` as the robomimic image recipe builds it: C8, 8 fields, 84 px
cropped to 76; this checkout's in each of its downsampling modes) is timed alone, forward + backward on 64 images
(batch 32, To = 2), median of 7.

Writes JSON: per tree the speed.py rows and the encoder's ms, and ``speedup``: per section of this checkout and
family, its train samples/s over the earlier one's (higher is faster) and its inference ms over the earlier one's
(lower is faster); per encoder, the earlier ms over this checkout's (higher is faster).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from equidiff_relaxed.errors import UserError, run_cli  # noqa: E402

# Run in a fresh process with the tree's root first on sys.path: pins the thread count (before any import can set
# it), times the tree's agentview encoder, then runs the tree's speed.py with the given arguments.
_RUNNER = r"""
import json, runpy, sys, time, warnings
tree, threads, out, modes, *speed_args = sys.argv[1:]
sys.path.insert(0, tree)
import torch
torch.set_num_threads(int(threads))
torch.set_num_threads = lambda n: None  # older speed.py always asked for 2 threads
warnings.filterwarnings("ignore")
from equidiff_relaxed.nn.encoders import EquivariantImageNet
from equidiff_relaxed.symmetry.group import SymmetryGroup
x = torch.rand(64, 3, 84, 84, generator=torch.Generator().manual_seed(0))
encoder_ms = {}
for mode in json.loads(modes):
    net = EquivariantImageNet(3, SymmetryGroup.parse("C8"), 8, 76, **({"downsample": mode} if mode else {})).train()
    def step():
        net.zero_grad()
        net(x).sum().backward()
    step()
    times = []
    for _ in range(7):
        t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
    encoder_ms[mode or "default"] = 1000 * sorted(times)[3]
sys.argv = [f"{tree}/benchmarks/speed.py", *speed_args, "--out", out]
try:
    runpy.run_path(f"{tree}/benchmarks/speed.py", run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
result = json.load(open(out))
result["agentview_encoder_train_ms_64_images"] = encoder_ms
json.dump(result, open(out, "w"), indent=2)
"""


def measure_tree(tree: Path, threads: int, speed_args: list[str], encoder_modes: list[str | None], workdir: Path,
                 label: str) -> dict:
    """One tree's speed.py rows and encoder timings (one per downsampling mode; None: the tree's only one),
    measured in a fresh process."""
    out = workdir / f"{label}.json"
    cmd = [sys.executable, "-c", _RUNNER, str(tree), str(threads), str(out), json.dumps(encoder_modes), *speed_args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    print(f"measuring {label} ({tree}) ...", flush=True)
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"{label}: speed.py failed in {tree}:\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def speedups(before: dict, after: dict, base_section: str, sections: list[str]) -> dict:
    """Per section of ``after`` and family: train samples/s ratio (after / before's ``base_section``), inference ms
    ratio (after / before); per encoder mode of ``after``: before's encoder ms / after's."""
    table: dict = {}
    for section in sections:
        for family, row in after.get(section, {}).items():
            old = before.get(base_section, {}).get(family)
            if not old or "train_samples_per_s" not in row:
                continue
            table.setdefault(section, {})[family] = {
                "train_samples_per_s_before": old["train_samples_per_s"],
                "train_samples_per_s_now": row["train_samples_per_s"],
                "train_speedup": row["train_samples_per_s"] / old["train_samples_per_s"],
                "infer_ms_before": old["infer_ms_per_chunk"], "infer_ms_now": row["infer_ms_per_chunk"],
                "infer_time_ratio": row["infer_ms_per_chunk"] / old["infer_ms_per_chunk"]}
    (enc_old,) = before["agentview_encoder_train_ms_64_images"].values()
    for mode, enc_new in after["agentview_encoder_train_ms_64_images"].items():
        table.setdefault("agentview_encoder", {})[mode] = {"train_ms_before": enc_old, "train_ms_now": enc_new,
                                                           "train_speedup": enc_old / enc_new}
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--base_section", default="robomimic_image", help="the earlier tree's speed.py section")
    parser.add_argument("--sections", default="robomimic_image,robomimic_image_stride",
                        help="this checkout's speed.py sections, each compared with the base section")
    parser.add_argument("--families", default="plain,equi,relaxed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--encoder_modes", default="pool,stride", help="this checkout's image_downsample modes")
    parser.add_argument("--quick", action="store_true", help="speed.py --quick: a smoke run, not a measurement")
    parser.add_argument("--out", default="benchmarks/results/speed_vs_commit.json")
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    rev = subprocess.run(["git", "rev-parse", "--short", args.ref], cwd=REPO, capture_output=True, text=True)
    if rev.returncode != 0:
        raise UserError(f"--ref {args.ref}: not a commit of {REPO}")
    ref = rev.stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    families = ["--families", args.families, *(["--quick"] if args.quick else [])]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worktree = tmp / "ref"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(worktree), ref], cwd=REPO, check=True)
        try:
            before = measure_tree(worktree, args.threads, ["--sections", args.base_section, *families], [None], tmp,
                                  f"ref_{ref}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=False)
        after = measure_tree(REPO, args.threads, ["--sections", args.sections, *families],
                             args.encoder_modes.split(","), tmp, f"now_{head}")
    result = {"ref": ref, "now": head, "base_section": args.base_section, "threads": args.threads,
              "hardware": after.get("hardware"), "command": "python benchmarks/speed_vs_commit.py "
              + " ".join(argv if argv is not None else sys.argv[1:]),
              "speedup": speedups(before, after, args.base_section, sections), "ref_rows": before, "now_rows": after}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(out)
    for section, rows in result["speedup"].items():
        for family, row in rows.items():
            print(f"{section:<24} {family:<8} train x{row['train_speedup']:.2f}"
                  + (f"  inference time x{row['infer_time_ratio']:.2f}" if "infer_time_ratio" in row else ""))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
