#!/usr/bin/env bash
# The learning comparison of the cost-model issue on one synthetic layout collection: GST with
# history + SED (and + head fine-tuning), segment only, full graph and the structure-blind model,
# same data, steps, seed and model. Prints valid-split metrics, train wall time and peak RSS per
# run. Not run by ctest (about 40 minutes of CPU, mostly the full-graph run).
#
#   tests/train/learning_bench.sh [JOBS]
#
# JOBS: runs at once (default 1; each is one process with one torch thread). Work goes under
# $GST_BENCH_DIR (default build/learning_bench); an existing store there is reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
GST=${GST:-build/gst}
WORK=${GST_BENCH_DIR:-build/learning_bench}
JOBS=${1:-1}
STORE=$WORK/store
mkdir -p "$WORK"

if [ ! -f "$STORE/manifest.json" ]; then
  $GST synth --collection layout:xla:random --out "$WORK/data" --seed 1 --overwrite \
    --graphs 60 --min-nodes 2000 --max-nodes 20000 --configs 64
  $GST shard --input "$WORK/data" --collection layout:xla:random --out "$STORE" --shards 2 \
    --segment-size 1000 --partitioner metis --workers 2 --overwrite
fi

# name|overrides of configs/quickstart.yaml (200 steps, batch 4, one process)
RUNS=(
  "gst|"
  "gst_efd|--set gst.head_steps=30"
  "segment_only|--set gst.mode=segment_only"
  "full_graph|--set gst.mode=full_graph"
  "structure_blind|--set model.message_passing=false"
)

# run NAME OVERRIDES: trains, then evaluates the valid split into NAME.json; NAME.time holds
# "wall_seconds peak_rss_kb" of the training process.
run() {
  local name=$1 overrides=$2 dir=$WORK/$1
  rm -rf "$dir"
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %M" -o "$dir.time" env OMP_NUM_THREADS=1 "$GST" train \
    --config configs/quickstart.yaml --run-dir "$dir" --set data.store="$STORE" \
    --set train.steps=200 --set train.batch_graphs=4 --set gst.head_steps=0 \
    --set train.torch_threads=1 --set train.valid_every=0 $overrides > "$dir.log" 2>&1 ||
    { tail -20 "$dir.log"; return 1; }
  "$GST" eval --run "$dir" --split valid --out "$WORK/$name.json" > "$dir.eval.log" 2>&1 ||
    { tail -20 "$dir.eval.log"; return 1; }
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
pids=()
for spec in "${RUNS[@]}"; do
  run "${spec%%|*}" "${spec#*|}" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || { echo "learning_bench: a run failed"; exit 1; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "| run | Kendall tau | OPA | top-1 / 5 / 10 slowdown | train wall | peak RSS |"
echo "| --- | --- | --- | --- | --- | --- |"
for spec in "${RUNS[@]}"; do
  name=${spec%%|*}
  read -r wall rss < "$WORK/$name.time"
  /usr/bin/python3 - "$WORK/$name.json" "$name" "$wall" "$rss" <<'PY'
import json, sys
m = next(iter(json.load(open(sys.argv[1]))["collections"].values()))
print("| %s | %.3f | %.3f | %.3f / %.3f / %.3f | %.0f s | %.2f GB |" % (
    sys.argv[2], m["kendall_tau"], m["opa"], m["slowdown_top1"], m["slowdown_top5"],
    m["slowdown_top10"], float(sys.argv[3]), float(sys.argv[4]) / 2**20))
PY
done
