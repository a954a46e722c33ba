#!/bin/bash
# The datasets of issue 16's job lists (git-ignored; deterministic: seed 0, the same arrays whatever the workers).
# Run once on a fresh machine before studies/queue.sh; existing datasets are kept.
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
for env in push push-pillar push-drift; do
  out=benchmarks/results/regions_fast/$env/data.zarr   # 113 episodes: 100 demos + the fixed 10 % validation split
  [ -e "$out" ] || { mkdir -p "$(dirname "$out")"; $PY datasets/generate.py --env $env --episodes 113 --seed 0 --workers 2 --out "$out" --quiet; }
done
out=benchmarks/results/regions_lift/lift/data.zarr       # Lift, the expert grasping at yaw = theta (region 6 broken)
[ -e "$out" ] || { mkdir -p "$(dirname "$out")"; MUJOCO_GL=${MUJOCO_GL:-egl} $PY datasets/generate.py --env lift --grasp-symmetry 360 --episodes 113 --seed 0 --workers 2 --out "$out" --quiet; }
out=benchmarks/results/regions_lift_stratified/lift/data.zarr   # the same, every region its share of demos (H5)
[ -e "$out" ] || { mkdir -p "$(dirname "$out")"; MUJOCO_GL=${MUJOCO_GL:-egl} $PY datasets/generate.py --env lift --grasp-symmetry 360 --episodes 113 --seed 0 --workers 2 --theta-regions 8 --stratify-regions --max-attempts 100 --out "$out" --quiet; }
echo "datasets ready"
