#!/usr/bin/env bash
# From a fresh machine to results in one command: setup and build, then every pipeline stage that
# exists so far. Re-running reuses what earlier runs produced. Output goes under quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash launch/setup.sh

GST=build/gst
OUT=${GST_QUICKSTART_DIR:-quickstart}
DATA=$OUT/data

# synth <collection> <gst synth options...>: writes the collection unless it is already there.
synth() {
  local collection=$1
  shift
  if $GST inspect "$DATA" --collection "$collection" > /dev/null 2>&1; then
    echo "quickstart: reusing $collection in $DATA"
  else
    $GST synth --collection "$collection" --out "$DATA" --seed 1 --overwrite "$@"
  fi
}

echo "== synth: layout and tile collections"
synth layout:xla:random --graphs 40 --min-nodes 2000 --max-nodes 20000 --configs 64
synth tile:xla --graphs 60 --configs 100

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
