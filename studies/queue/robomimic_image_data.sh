#!/bin/bash
# The Lift-image dataset of the robomimic image study, made the way a user's file arrives: our scripted expert's Lift
# demos with agentview and eye-in-hand at 84 px (delta OSC actions, the cube at the table centre with standard Lift's
# +-3 cm jitter, yaw drawn over the full circle), exported to a robomimic HDF5 and converted back with --abs_actions.
# Git-ignored; deterministic (seed 0). 113 episodes: 100 demos and a spare 10 %. Existing files are kept.
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export MUJOCO_GL=${MUJOCO_GL:-egl}
dir=benchmarks/results/robomimic_image/lift
mkdir -p "$dir"
[ -e "$dir/generated.zarr" ] || $PY datasets/generate.py --env lift --episodes 113 --seed 0 --workers 2 --image \
  --image_size 84 --eye_in_hand --action_mode delta --radius 0 --jitter 0.03 --out "$dir/generated.zarr" --quiet
[ -e "$dir/lift_image.hdf5" ] || $PY datasets/export_robomimic.py --zarr "$dir/generated.zarr" --out "$dir/lift_image.hdf5" --quiet
[ -e "$dir/data.zarr" ] || $PY datasets/convert_robomimic.py --hdf5 "$dir/lift_image.hdf5" --out "$dir/data.zarr" --abs_actions --quiet
echo "dataset ready: $dir/data.zarr"
