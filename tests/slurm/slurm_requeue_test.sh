#!/usr/bin/env bash
# Integration test: slurm/train.sbatch on a local single-node Slurm.
#   slurm_requeue_test.sh SOURCE_DIR BUILD_DIR [preempt|stall]
# preempt (default): preempted with SIGUSR1 mid-run, requeued by the batch script, and resumed from
#   its checkpoint to the end.
# stall: rank 1 stalls at every step; the collective watchdog ends each attempt with code 4, the
#   batch script requeues once (GST_STALL_RETRIES=1) and gives up after the second stall.
# Fails (never skips) when Slurm cannot start, printing the daemons' logs.
set -euo pipefail
src=$(realpath "$1")
build=$(realpath "$2")
scenario=${3:-preempt}
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/gst-slurm-XXXXXX)
cluster=$work/cluster
export SLURM_CONF=$cluster/slurm.conf

cleanup() {
  [ -n "${job:-}" ] && scancel "$job" 2>/dev/null || true
  bash "$here/local_slurm.sh" stop "$cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT
die() {
  echo "slurm test: FAILED: $*"
  [ -f "$work/job.out" ] && { echo "---- job output"; cat "$work/job.out"; }
  [ -n "${job:-}" ] && scontrol show job "$job" 2>/dev/null | head -30
  for f in "$cluster"/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }; done
  exit 1
}
job_field() { scontrol show job "$job" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  for _ in $(seq "$limit"); do "$@" && return 0; sleep 1; done
  die "timed out after ${limit}s waiting for $what"
}

bash "$here/local_slurm.sh" start "$cluster" || die "could not start Slurm"

gst=$build/gst
$gst synth --collection layout:xla:random --out "$work/data" --graphs 10 --min-nodes 400 \
  --max-nodes 1500 --configs 16 --seed 3 > /dev/null
$gst shard --input "$work/data" --collection layout:xla:random --out "$work/store" --shards 2 \
  --segment-size 300 --partitioner contiguous > /dev/null

run=$work/run
has_checkpoint() { ls -d "$run"/step-* > /dev/null 2>&1; }
requeued() { [ "$(job_field Restarts)" = 1 ]; }
pending() { [ "$(job_field JobState)" = PENDING ]; }
release_requeued() {  # start the requeued attempt now instead of after Slurm's ~120 s BeginTime
  wait_for 120 "$1" requeued
  # slurmd refuses ("Job N already killed") a batch launch whose credential is not newer, to
  # the second, than the kill of the previous attempt: wait until that attempt has fully
  # completed (PENDING, no longer COMPLETING/REQUEUED) and a clock second has passed.
  wait_for 120 "the previous attempt to finish completing" pending
  sleep 2
  scontrol update JobId="$job" StartTime=now || die "could not release the requeued job"
}
finished() { case "$(job_field JobState)" in COMPLETED | FAILED | CANCELLED | TIMEOUT) return 0 ;; esac; return 1; }
submit() {  # submit GST_ARGS [VAR=VALUE ...]: train.sbatch on 2 ranks, the job id in $job
  local args=$1
  shift
  job=$(env "$@" GST_HOME="$src" GST_CONFIG=configs/quickstart.yaml GST_RUN="$run" \
    GST_ARGS="$args" GST_BINARY="$build/gst" sbatch --parsable --output "$work/job.out" \
    --ntasks-per-node 2 "$src/slurm/train.sbatch") || die "sbatch failed"
  echo "slurm test: submitted job $job"
}
small_model="--set data.store=$work/store --set train.log_every=5 --set train.valid_every=100000"
small_model+=" --set gst.head_steps=0 --set model.hidden=16 --set model.projection=8"
small_model+=" --set model.head_hidden=16"

preempt() {
  local steps=300
  submit "$small_model --set train.steps=$steps --set train.checkpoint_every=10"
  wait_for 300 "the first checkpoint" has_checkpoint
  echo "slurm test: checkpoint written, sending USR1 to the batch script"
  scancel --signal=USR1 --batch "$job" || die "scancel --signal=USR1 failed"

  release_requeued "the job to be requeued"
  wait_for 600 "the requeued job to finish" finished
  local state
  state=$(job_field JobState)
  [ "$state" = COMPLETED ] || die "job ended in state $state"

  grep -q "requeueing job $job" "$work/job.out" || die "the batch script did not requeue after preemption"
  grep -q "attempt 1" "$work/job.out" || die "no second attempt in the job output"
  local resumed preempted
  resumed=$(sed -n 's/.*train: resumed from .*(step \([0-9]*\),.*/\1/p' "$work/job.out" | head -1)
  [ -n "$resumed" ] && [ "$resumed" -gt 0 ] || die "the requeued run did not resume from a checkpoint"
  preempted=$(sed -n 's/.*preempted at step \([0-9]*\);.*/\1/p' "$work/job.out" | head -1)
  [ "$preempted" = "$resumed" ] || die "preempted at step '$preempted' but resumed from '$resumed'"
  /usr/bin/python3 - "$run/metrics.jsonl" "$steps" <<'PY' || die "metrics log check failed"
import json, sys
steps = [r["step"] for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "train"]
assert steps == sorted(steps) and len(set(steps)) == len(steps), f"steps not continuing: {steps}"
assert steps[-1] == int(sys.argv[2]), f"last logged step {steps[-1]}, expected {sys.argv[2]}"
print(f"slurm test: {len(steps)} train records, steps {steps[0]}..{steps[-1]}")
PY
  echo "slurm test: preempted at step $preempted, requeued, resumed at $resumed, finished $steps steps"
}

stall() {
  submit "$small_model --set train.steps=50 --set dist.timeout_s=5" \
    GST_FAULT='stall:train.step,rank=1,seconds=600' GST_STALL_RETRIES=1
  release_requeued "the job to be requeued after the first stall"
  wait_for 120 "the second attempt to end" finished
  local state
  state=$(job_field JobState)
  [ "$state" = FAILED ] || die "job ended in state $state, expected FAILED after the second stall"
  [ "$(job_field ExitCode)" = 4:0 ] || die "job exit code $(job_field ExitCode), expected 4:0"
  grep -q "stall 1 of at most 1 retried" "$work/job.out" || die "no requeue after the first stall"
  grep -q "stalled 2 times; not requeueing" "$work/job.out" || die "the retry limit was not applied"
  [ "$(grep -c 'not arrived: rank 1' "$work/job.out")" -ge 2 ] ||
    die "the stall reports do not name rank 1 on both attempts"
  [ "$(cat "$run/.slurm-stalls")" = 2 ] || die "RUN/.slurm-stalls holds $(cat "$run/.slurm-stalls")"
  echo "slurm test: stalled twice, requeued once, stopped at the retry limit with exit code 4"
}

case $scenario in
  preempt) preempt ;;
  stall) stall ;;
  *) die "unknown scenario '$scenario' (preempt or stall)" ;;
esac
