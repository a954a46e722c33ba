#!/bin/bash
# The datasets of the breaks-that-hurt study (git-ignored; deterministic: seed 0, the same arrays whatever the
# workers): push-wall at full strength and at the dial's strengths 0, 1/4, 1/2 (113 episodes each: 100 demos and
# the fixed 10 % validation split), and Lift grasp-360 with region-stratified demos. Existing datasets are kept.
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
make_wall() {  # OUT STRENGTH
  [ -e "$1" ] || { mkdir -p "$(dirname "$1")"; $PY datasets/generate.py --env push-wall --wall_strength "$2" --episodes 113 --seed 0 --workers 2 --out "$1" --quiet; }
}
make_wall benchmarks/results/breaks/push-wall/data.zarr 1
for s in 0 0.25 0.5; do make_wall "benchmarks/results/breaks_dial/strength$s/data.zarr" "$s"; done
out=benchmarks/results/regions_lift_stratified/lift/data.zarr
[ -e "$out" ] || { mkdir -p "$(dirname "$out")"; MUJOCO_GL=${MUJOCO_GL:-egl} $PY datasets/generate.py --env lift --grasp_symmetry 360 --episodes 113 --seed 0 --workers 2 --theta_regions 8 --stratify_regions --max_attempts 100 --out "$out" --quiet; }
echo "datasets ready"
