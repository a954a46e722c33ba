#!/bin/bash
# A resumable job queue for long benchmark sweeps on a machine without a scheduler.
#
#   bash studies/queue.sh studies/queue/issue16.txt A &    # start one worker per free core pair, e.g. A and B
#   bash studies/queue.sh studies/queue/issue16.txt B &
#
# Each line of the job file is one studies/regions.py run:  OUT ENV DEMOS SEED MODEL STEPS [more regions.py args]
# (the recipe is configs/push.yaml unless the line passes --recipe; residual lines pin --set model.residual_beta=1e-2,
# the value the committed residual runs used, since the push recipe's default is now 1)
# (# starts a comment). Workers share the file: a worker claims a run (mkdir in $CLAIMS, one claim per OUT and run
# name, so two workers never run the same run, even one that two job files list; a killed worker's claims go to the
# next worker that reaches them), skips runs whose OUT/runs/<model>_n<demos>_s<seed>/eval.json exists, waits for
# the base run of a <model>_from_<base> line, and commits each finished run's eval.json and OUT's reports (flock:
# one commit at a time). Runs use $THREADS torch threads (default 1: two 1-thread workers train ~1.35x faster than
# one 2-thread one on 2 cores). The dataset is
# benchmarks/results/regions_fast/ENV/data.zarr unless the line passes --dataset; a missing one skips the line
# (made by studies/queue/issue16_data.sh: git-ignored, regenerated identically).
# Killed workers lose nothing but the run in progress, which regions.py resumes from its last.ckpt.
# Set RUNNER to a git worktree to run a fixed version of the code while the main tree changes (its
# benchmarks/results should be a link to the main tree's).
JOBS=$1; NAME=${2:-A}
[ -f "$JOBS" ] || { echo "queue.sh: no job file $JOBS" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNNER=${RUNNER:-$REPO}
CLAIMS=${CLAIMS:-/tmp/equidiff_queue_claims}
LOGS=${LOGS:-/tmp/equidiff_queue_logs}
PY=${PY:-$REPO/.venv/bin/python}
mkdir -p "$CLAIMS" "$LOGS"
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} PYTHONPATH=$RUNNER PYTHONWARNINGS=ignore
JOBS=$(cd "$(dirname "$JOBS")" && pwd)/$(basename "$JOBS")
cd "$RUNNER" || exit 2
while IFS= read -r line; do
  [ -z "${line// }" ] && continue; case "$line" in \#*) continue;; esac
  set -- $line; out=$1 env=$2 demos=$3 seed=$4 model=$5 steps=$6; shift 6
  name=${model}_n${demos}_s${seed}
  run_id=$(echo "$out" | tr / _)_$name                # names the run's claim and its log
  claim="$CLAIMS/$run_id"                             # one claim per run, whichever job file lists it
  if ! mkdir "$claim" 2>/dev/null; then
    # claimed: skip it, unless the claiming worker is gone (killed), so that a restarted queue redoes the unfinished
    # run; mv is atomic, so one worker takes a stale claim over
    owner=$(cat "$claim/pid" 2>/dev/null)
    [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null && mv "$claim" "$claim.stale.$$" 2>/dev/null || continue
    rm -rf "$claim.stale.$$"; mkdir "$claim" 2>/dev/null || continue
  fi
  echo $$ > "$claim/pid"
  [ -e "$out/runs/$name/eval.json" ] && continue
  case $model in *_from_*)
    base=${model#*_from_}
    while [ ! -e "$out/runs/${base}_n${demos}_s${seed}/eval.json" ]; do sleep ${WAIT_S:-20}; done;;
  esac
  data=benchmarks/results/regions_fast/$env/data.zarr
  case " $* " in *" --dataset "*) data="";; esac           # the line names its own dataset
  if [ -n "$data" ] && [ ! -e "$data" ]; then            # never let regions.py generate a demos-sized one
    echo "$(date +%T) $NAME skipped $out $name: no $data (run studies/queue/issue16_data.sh)" >> "$LOGS/progress.log"
    rm -rf "$claim"; continue
  fi
  echo "$(date +%T) $NAME start $out $name $*" >> "$LOGS/progress.log"
  "$PY" studies/regions.py --env "$env" --demos "$demos" --seeds "$seed" --models "$model" --steps "$steps" \
     --episodes-per-region 25 --recipe configs/push.yaml ${data:+--dataset $data} --out "$out" --quiet "$@" \
     > "$LOGS/$run_id.txt" 2>&1
  rc=$?
  ms=$("$PY" -c "import json;print(round(json.load(open('$out/runs/$name/eval.json'))['mean_success'],3))" 2>/dev/null)
  echo "$(date +%T) $NAME done rc=$rc $out $name $ms" >> "$LOGS/progress.log"
  [ -e "$out/runs/$name/eval.json" ] || continue
  ( flock 9
    cd "$REPO" && git add -- "$out/runs/$name/eval.json"
    for report in "$out"/*.md "$out"/*.png; do [ -e "$report" ] && git add -- "$report"; done
    git commit -q -m "Study run: $out $name ($steps steps${*:+, $*}): $ms" -- "$out" >> "$LOGS/git.log" 2>&1
  ) 9>"$LOGS/git.lock"
done < "$JOBS"
echo "$(date +%T) $NAME finished $JOBS" >> "$LOGS/progress.log"
