#!/bin/bash
# The datasets of the promise study (git-ignored; deterministic: seed 0, the same arrays whatever the workers;
# 113 episodes each: 100 demos and the fixed 10 % validation split): push-wall at full strength and without a wall
# (the breaks study's), push-pillar and push-drift (the sample-efficiency study's), and push-wall with its wall
# elsewhere: across region 6 (292.5 degrees), and two walls across regions 0 and 4 (22.5 and 202.5 degrees).
# Existing datasets are kept.
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
gen() {  # OUT ENV [generate.py options]
  out=$1 env=$2; shift 2
  [ -e "$out" ] || { mkdir -p "$(dirname "$out")"; $PY datasets/generate.py --env "$env" "$@" --episodes 113 --seed 0 --workers 2 --out "$out" --quiet; }
}
gen benchmarks/results/breaks/push-wall/data.zarr push-wall --wall_strength 1
gen benchmarks/results/breaks_dial/strength0/data.zarr push-wall --wall_strength 0
gen benchmarks/results/regions_fast/push-pillar/data.zarr push-pillar
gen benchmarks/results/regions_fast/push-drift/data.zarr push-drift
gen benchmarks/results/promise/push-wall-region6/data.zarr push-wall --wall_angle 292.5
gen benchmarks/results/promise/push-wall-regions04/data.zarr push-wall --walls 22.5 202.5
echo "datasets ready"
