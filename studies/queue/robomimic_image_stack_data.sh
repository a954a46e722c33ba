#!/bin/bash
# The Stack-image dataset of the relaxed-convolution study's second task, made the way a user's file arrives: our
# scripted expert's Stack demos (pick cubeA, place it on cubeB) with agentview and eye-in-hand at 84 px, delta OSC
# actions, the cubes on the generator's circle about the table centre (radius 0.15 m) at every yaw, so the arm's base
# is near some placements and far from others; exported to a robomimic HDF5 and converted back with --abs_actions.
# Git-ignored; deterministic (seed 0). 113 episodes: 100 demos and a spare 10 %. Existing files are kept.
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export MUJOCO_GL=${MUJOCO_GL:-egl}
dir=benchmarks/results/robomimic_image/stack
mkdir -p "$dir"
[ -e "$dir/generated.zarr" ] || $PY datasets/generate.py --env stack --episodes 113 --seed 0 --workers 2 --image \
  --image_size 84 --eye_in_hand --action_mode delta --out "$dir/generated.zarr" --quiet
[ -e "$dir/stack_image.hdf5" ] || $PY datasets/export_robomimic.py --zarr "$dir/generated.zarr" --out "$dir/stack_image.hdf5" --quiet
[ -e "$dir/data.zarr" ] || $PY datasets/convert_robomimic.py --hdf5 "$dir/stack_image.hdf5" --out "$dir/data.zarr" --abs_actions --quiet
echo "dataset ready: $dir/data.zarr"
