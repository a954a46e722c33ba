#!/bin/bash
# The image datasets of the robomimic image studies, made the way a user's file arrives: our scripted expert's demos
# with agentview and eye-in-hand at 84 px (delta OSC actions), exported to a robomimic HDF5 and converted back with
# --abs_actions. Git-ignored; deterministic (seed 0). 113 episodes: 100 demos and a spare 10 %. Existing files are kept.
#   bash studies/queue/robomimic_image_data.sh         Lift: the cube at the table centre with standard Lift's +-3 cm
#                                                      jitter, its yaw drawn over the full circle
#   bash studies/queue/robomimic_image_data.sh stack   Stack (pick cubeA, place it on cubeB): the cubes on the
#                                                      generator's circle about the table centre (radius 0.15 m) at every
#                                                      yaw, so the arm's base is near some placements and far from others
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export MUJOCO_GL=${MUJOCO_GL:-egl}
task=${1:-lift}
case $task in
  lift) layout="--radius 0 --jitter 0.03";;
  stack) layout="";;
  *) echo "robomimic_image_data.sh: unknown task $task (known: lift, stack)" >&2; exit 2;;
esac
dir=benchmarks/results/robomimic_image/$task
mkdir -p "$dir"
[ -e "$dir/generated.zarr" ] || $PY datasets/generate.py --env "$task" --episodes 113 --seed 0 --workers 2 --image \
  --image_size 84 --eye_in_hand --action_mode delta $layout --out "$dir/generated.zarr" --quiet
[ -e "$dir/${task}_image.hdf5" ] || $PY datasets/export_robomimic.py --zarr "$dir/generated.zarr" --out "$dir/${task}_image.hdf5" --quiet
[ -e "$dir/data.zarr" ] || $PY datasets/convert_robomimic.py --hdf5 "$dir/${task}_image.hdf5" --out "$dir/data.zarr" --abs_actions --quiet
echo "dataset ready: $dir/data.zarr"
