#!/usr/bin/env bash
# From a fresh machine to results in one command: setup and build, then every pipeline stage that
# exists so far. Re-running reuses what earlier runs produced. Output goes under quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash launch/setup.sh

GST=build/gst
OUT=${GST_QUICKSTART_DIR:-quickstart}
DATA=$OUT/data

RUNS=${GST_QUICKSTART_RUNS:-checkpoints}

# synth <collection> <graphs> <gst synth options...>: writes the collection unless one with that
# many graphs is already there; a new collection makes its store and run (named after the task)
# stale, so they are removed.
synth() {
  local collection=$1 graphs=$2
  shift 2
  local dir=$DATA/npz/${collection//://} task=${collection%%:*}
  if $GST inspect "$DATA" --collection "$collection" > /dev/null 2>&1 &&
    [ "$(find "$dir" -name '*.npz' | wc -l)" -eq "$graphs" ]; then
    echo "quickstart: reusing $collection in $DATA"
  else
    rm -rf "$OUT/stores/$task" "$RUNS/quickstart_$task"
    $GST synth --collection "$collection" --out "$DATA" --graphs "$graphs" --seed 1 --overwrite "$@"
  fi
}

echo "== synth: layout and tile collections"
synth layout:xla:random 40 --min-nodes 2000 --max-nodes 20000 --configs 64
synth tile:xla 2000 --configs 100

echo "== inspect: per-split summaries"
for collection in layout:xla:random tile:xla; do
  # Per-graph lines are indented "  split/id:"; keep the split summaries.
  $GST inspect "$DATA" --collection "$collection" | grep -v '^  [a-z]*/'
done

# shard <collection> <store>: writes the segment store unless a complete one is there.
shard() {
  local collection=$1 store=$2
  if [ -f "$store/manifest.json" ] && $GST shard --verify "$store" > /dev/null 2>&1; then
    echo "quickstart: reusing store $store"
  else
    $GST shard --input "$DATA" --collection "$collection" --out "$store" --shards 2 \
      --segment-size 1000 --partitioner metis --workers 2 --overwrite
  fi
}

echo "== shard: HDF5 segment stores"
shard layout:xla:random "$OUT/stores/layout"
shard tile:xla "$OUT/stores/tile"

LAYOUT_RUN=$RUNS/quickstart_layout
TILE_RUN=$RUNS/quickstart_tile

# train <config> <store> <run>: 2 ranks, 1 torch thread each; --resume auto continues an
# interrupted run and leaves a finished one as it is. A run made with another config file or gst
# build is trained again: its checkpoints may not fit this model.
train() {
  local config=$1 store=$2 run=$3 stamp
  stamp=$(cat "$config" "$GST" | sha256sum | cut -c1-16)
  if [ -d "$run" ] && [ "$(cat "$run/.quickstart-stamp" 2> /dev/null)" != "$stamp" ]; then
    echo "quickstart: $run was trained with another config or build; training it again"
    rm -rf "$run"
  fi
  mkdir -p "$run"
  echo "$stamp" > "$run/.quickstart-stamp"
  launch/train.sh -n 2 -t 1 -- --config "$config" --set data.store="$store" --run-dir "$run" \
    --resume auto
}

echo "== train: GST + history + SED on 2 ranks"
train configs/quickstart.yaml "$OUT/stores/layout" "$LAYOUT_RUN"
train configs/quickstart_tile.yaml "$OUT/stores/tile" "$TILE_RUN"

echo "== eval: valid split, fresh embeddings of every segment and config"
# Transparent huge pages for the heap: eval's first touches of new memory are its page faults
# (src/eval/README.md); glibc reads this at process start.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1
$GST eval --run "$LAYOUT_RUN" --split valid --out "$OUT/eval_layout.json"
$GST eval --run "$TILE_RUN" --split valid --out "$OUT/eval_tile.json"

echo "== predict: submission CSV for the test split"
$GST predict --run "$LAYOUT_RUN" --split test --out "$OUT/submission_layout.csv"
$GST predict --run "$TILE_RUN" --split test --out "$OUT/submission_tile.csv"
{
  cat "$OUT/submission_layout.csv"
  tail -n +2 "$OUT/submission_tile.csv"
} > "$OUT/submission.csv"

echo "== plot: loss and validation metrics"
launch/plot.sh "$LAYOUT_RUN"
launch/plot.sh "$TILE_RUN"

echo
echo "== quickstart results (valid split)"
for f in "$OUT/eval_layout.json" "$OUT/eval_tile.json"; do
  # One collection per file: print its metrics as one row.
  tr -d ' \n' < "$f" | sed -E 's/.*"collections":\{"([^"]+)":\{([^}]*)\}.*/\1 \2/' |
    awk '{
      name = $1; n = split($2, kv, ",");
      for (i = 1; i <= n; ++i) { split(kv[i], p, ":"); gsub(/"/, "", p[1]); v[p[1]] = p[2] }
      printf "  %-20s kendall tau %7.4f  opa %7.4f  top-1/5/10 slowdown %.4f / %.4f / %.4f\n",
        name, v["kendall_tau"], v["opa"], v["slowdown_top1"], v["slowdown_top5"], v["slowdown_top10"]
    }'
done
echo "  checkpoints:   $LAYOUT_RUN, $TILE_RUN (step-N directories)"
echo "  metrics logs:  $LAYOUT_RUN/metrics.jsonl, $TILE_RUN/metrics.jsonl"
echo "  plots:         $LAYOUT_RUN/plots/, $TILE_RUN/plots/"
echo "  submission:    $OUT/submission.csv"
