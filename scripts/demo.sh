#!/bin/bash
# `make demo`: push-wall demos (generated if missing) -> expert success per region and the data's symmetry-break map
# -> the oriented family and the exactly equivariant one (equi) trained on the same 100 demos for the same 6000 steps,
# side by side (one core each, EQUIDIFF_THREADS=1) -> both evaluated on the same 8 x 25 episodes: a paired table
# per region, failure categories, and runs/demo/eval/symmetry.png (success per region, where each policy broke the
# symmetry, where the demonstrations do). Each run starts runs/demo afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEMO_DIR=${DEMO_DIR:-datasets/data}
DATA=$DEMO_DIR/push_wall.zarr
mkdir -p "$DEMO_DIR"
[ -e "$DATA" ] || $PY datasets/generate.py --env push-wall --episodes 113 --seed 0 --workers 2 --out "$DATA"
$PY datasets/expert_report.py --env push-wall --episodes_per_region 10 --dataset "$DATA" --quiet
rm -rf runs/demo
mkdir -p runs/demo
train() {  # FAMILY: train it on one core, its progress lines prefixed with its name
  EQUIDIFF_THREADS=1 $PY train.py --config configs/demo.yaml --model.model "$1" --data.dataset_path "$DATA" \
    --out "runs/demo/$1" 2>&1 | sed -u "s/^/[$1] /"
}
train oriented &
oriented=$!
status=0
train equi || status=$?
wait $oriented || status=$?
[ "$status" = 0 ] || { echo "error: training failed (the lines above say why)" >&2; exit "$status"; }
$PY eval.py --checkpoint runs/demo/equi/checkpoints/last.ckpt runs/demo/oriented/checkpoints/last.ckpt \
  --episodes_per_region 25 --n_envs 2 --out runs/demo/eval
