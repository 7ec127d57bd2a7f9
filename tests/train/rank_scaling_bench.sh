#!/usr/bin/env bash
# Training throughput on 1 and 2 ranks (torch 1 thread per rank) on the quickstart layout
# collection, and the history table's traffic per step and share of step time. Not run by ctest.
#
#   tests/train/rank_scaling_bench.sh [STORE] [STEPS]
#
# STORE: a segment store (default: synthesized and sharded like launch/quickstart.sh under
# $GST_BENCH_DIR, default build/rank_scaling_bench). STEPS: main-phase steps per run (default 40);
# metrics are logged every 10 steps and the first interval is warm-up, left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
GST=${GST:-build/gst}
WORK=${GST_BENCH_DIR:-build/rank_scaling_bench}
STORE=${1:-}
STEPS=${2:-40}
mkdir -p "$WORK"

if [ -z "$STORE" ]; then
  STORE=$WORK/store
  if [ ! -f "$STORE/manifest.json" ]; then
    $GST synth --collection layout:xla:random --out "$WORK/data" --seed 1 --overwrite \
      --graphs 40 --min-nodes 2000 --max-nodes 20000 --configs 64
    $GST shard --input "$WORK/data" --collection layout:xla:random --out "$STORE" --shards 2 \
      --segment-size 1000 --partitioner metis --workers 2 --overwrite
  fi
fi

# train RANKS: runs STEPS steps of configs/quickstart.yaml (no head stage, validation on 1 graph).
train() {
  local ranks=$1 run=$WORK/run_np$1
  rm -rf "$run"
  OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$GST" train \
    --config configs/quickstart.yaml --run-dir "$run" --set data.store="$STORE" \
    --set train.steps="$STEPS" --set train.log_every=10 --set train.valid_every=0 \
    --set train.valid_graphs=1 --set train.checkpoint_every=0 --set train.torch_threads=1 \
    --set gst.head_steps=0 > "$run.log" 2>&1 || { cat "$run.log"; exit 1; }
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
train 1
train 2
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

/usr/bin/python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]

def summary(ranks):
    lines = [json.loads(l) for l in open(f"{work}/run_np{ranks}/metrics.jsonl")]
    train = [l for l in lines if l["kind"] == "train"][1:]  # first interval: warm-up
    assert train, "too few steps: every logged interval after the first is measured"
    n = len(train)
    step_s = sum(l["step_s"] for l in train) / n
    configs = sum(l["graph_configs_per_s"] for l in train) / n
    segments = sum(l["segments_per_s"] for l in train) / n
    steps = train[1]["step"] - train[0]["step"] if n > 1 else 10
    table_bytes = sum(l["table_bytes"] for l in train) / n / steps  # all ranks, per step
    table_s = sum(l["table_s"] for l in train) / n  # slowest rank, per step
    return dict(step_s=step_s, configs=configs, segments=segments, table_bytes=table_bytes,
                table_s=table_s)

one, two = summary(1), summary(2)
print(f"{'':24}{'1 rank':>12}{'2 ranks':>12}")
for key, name, fmt in [("configs", "graph-configs/s", "{:12.1f}"),
                       ("segments", "trained segments/s", "{:12.1f}"),
                       ("step_s", "step time (s)", "{:12.3f}"),
                       ("table_bytes", "table bytes/step", "{:12.0f}"),
                       ("table_s", "table time/step (s)", "{:12.4f}")]:
    print(f"{name:24}" + fmt.format(one[key]) + fmt.format(two[key]))
for name, r in (("1 rank", one), ("2 ranks", two)):
    print(f"table share of step time, {name}: {100 * r['table_s'] / r['step_s']:.1f}%")
ratio = two["configs"] / one["configs"]
print(f"throughput ratio 2 ranks / 1 rank: {ratio:.2f}x (target >= 1.6x)")
PY
