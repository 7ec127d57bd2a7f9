#!/usr/bin/env bash
# The learnability table: for each synthetic cost family (src/data/synth_cost.h), train every
# training mode over several seeds on the same collection and print valid-split metrics as mean
# +- std next to the noise ceiling and oracle of the valid split, with train wall time and peak RSS.
# Not run by ctest (tens of minutes of CPU).
#
#   tests/train/learning_bench.sh [-f "FAMILY;FAMILY..."] [-s SEEDS] [-n STEPS] [-t TILE_STEPS]
#                                 [-g GRAPHS] [-j JOBS] [-m "MODE MODE..."] [-T "MODE MODE..."] [-R]
#
# FAMILY: layout:<--cost value> or tile:<--cost value>, e.g. "layout:agree;tile:oneshape,noisy",
# or numpy:<options> for a layout collection written by tests/train/independent_layout.py, a cost
# model and feature layout gst synth does not share, e.g. "numpy:" or "numpy:--copy,3,--noise,0.05",
# or numpy_tile:<options> for a tile collection written by tests/train/independent_tile.py (real
# TpuGraphs tile config columns, GRAPHS x 10 kernels), e.g. "numpy_tile:" or "numpy_tile:--spill,4"
# (default: layout agree, agree,heavy, agree,relayout, agree,noisy, classic; numpy:; tile classic
# and spill,oneshape,noisy). Layout MODES (default: all): gst (history, no stale-embedding dropout,
# the default), gst_sed (history + SED, p = 0.5), gst_efd (+ head fine-tuning), segment_only,
# full_graph, structure_blind, raw_inputs (gst without one-hot columns, config equality features,
# neighbour layout differences, dim fit, layout agreement, operand copies and size pooling: the
# inputs of earlier versions); not in the default list: no_neighbour_match, no_dim_fit,
# no_layout_agreement, no_operand_copies, no_kept_layout_fit (gst without that layout input),
# linear_cost (model.node_cost linear), one_cost_channel (model.cost_channels 1), dropout
# (model.dropout 0.1), weight_decay (train.weight_decay 0.001), and set=KEY=VALUE[+KEY=VALUE...]
# for any other overrides, e.g. set=model.hidden=32+train.lr=0.004.
# Tile kernels are one segment, so GST modes do not apply; tile MODES (-T, default: tile): tile
# (configs/quickstart_tile.yaml: tile configs at every node with their padding fit, weight decay,
# position-aware ListMLE), tile_dropout (+ dropout 0.1), tile_listmle (tile_dropout with plain
# ListMLE), tile_nofit (the same without the padding fit), tile_noalign (without the tile's
# extent, count and vector-tile padding at the nodes, model.tile_align), tile_late_dropout
# (tile configs at the head only, dropout 0.1), tile_noreg (no weight decay, no dropout),
# tile_slowdown (tile_dropout plus the expected top-1 slowdown in the loss). SEEDS
# (default 3) are train.seed values 0..SEEDS-1 on one collection per family. JOBS: runs at once
# (default 1; each one process, one torch thread). Work goes under $GST_BENCH_DIR (default
# build/learning_bench); collections and stores there are reused. -R prints the table of the runs
# already there without training.
set -euo pipefail
cd "$(dirname "$0")/../.."
GST=${GST:-build/gst}
WORK=${GST_BENCH_DIR:-build/learning_bench}
FAMILIES="layout:agree;layout:agree,heavy;layout:agree,relayout;layout:agree,noisy;layout:classic;numpy:"
FAMILIES+=";tile:classic;tile:spill,oneshape,noisy"
SEEDS=3 STEPS=300 TILE_STEPS=6000 GRAPHS=60 JOBS=1 REPORT_ONLY=0
MODES="gst gst_sed gst_efd segment_only full_graph structure_blind raw_inputs"
TILE_MODES="tile"
while getopts "f:s:n:t:g:j:m:T:R" opt; do
  case $opt in
    f) FAMILIES=$OPTARG ;;
    s) SEEDS=$OPTARG ;;
    n) STEPS=$OPTARG ;;
    t) TILE_STEPS=$OPTARG ;;
    g) GRAPHS=$OPTARG ;;
    j) JOBS=$OPTARG ;;
    m) MODES=$OPTARG ;;
    T) TILE_MODES=$OPTARG ;;
    R) REPORT_ONLY=1 ;;
    *) sed -n 2,30p "$0"; exit 2 ;;
  esac
done

# task_kind TASK: tile for tile collections (gst synth's or numpy's), else layout.
task_kind() { case $1 in tile | numpy_tile) echo tile ;; *) echo layout ;; esac; }

# prepare TASK COST DIR: synth (its reference line kept in DIR/reference.txt) and shard once.
prepare() {
  local task=$1 cost=$2 dir=$3 collection
  collection=$([ "$(task_kind "$task")" = tile ] && echo tile:xla || echo layout:xla:random)
  [ -f "$dir/store/manifest.json" ] && return 0
  if [ "$task" = numpy ]; then
    # shellcheck disable=SC2086
    /usr/bin/python3 tests/train/independent_layout.py --out "$dir/data" --seed 1 \
      --graphs "$GRAPHS" --min-nodes 500 --max-nodes 4000 --configs 64 ${cost//,/ } |
      grep "cost family" > "$dir/reference.txt"
  elif [ "$task" = numpy_tile ]; then
    # shellcheck disable=SC2086
    /usr/bin/python3 tests/train/independent_tile.py --out "$dir/data" --seed 1 \
      --graphs $((GRAPHS * 7)) --configs 100 ${cost//,/ } | grep "cost family" > "$dir/reference.txt"
  elif [ "$task" = layout ]; then
    $GST synth --collection $collection --out "$dir/data" --seed 1 --overwrite --cost "$cost" \
      --graphs "$GRAPHS" --min-nodes 500 --max-nodes 4000 --configs 64 2>&1 |
      grep "cost family" > "$dir/reference.txt"
  else
    $GST synth --collection $collection --out "$dir/data" --seed 1 --overwrite --cost "$cost" \
      --graphs $((GRAPHS * 10)) --configs 100 2>&1 | grep "cost family" > "$dir/reference.txt"
  fi
  $GST shard --input "$dir/data" --collection $collection --out "$dir/store" --shards 1 \
    --segment-size 1000 --partitioner metis --workers 2 --overwrite > "$dir/shard.log" 2>&1
}

# Overrides of each mode, on top of the shared ones in run().
mode_overrides() {
  case $1 in
    gst) echo "" ;;
    gst_sed) echo "--set gst.sed_p=0.5" ;;
    gst_efd) echo "--set gst.head_steps=$((STEPS / 5))" ;;
    segment_only) echo "--set gst.mode=segment_only" ;;
    full_graph) echo "--set gst.mode=full_graph" ;;
    structure_blind) echo "--set model.message_passing=false" ;;
    raw_inputs)
      echo "--set model.categorical=false --set model.config_match=false" \
        "--set model.neighbour_match=false --set model.dim_fit=false" \
        "--set model.layout_agreement=false --set model.operand_copies=false" \
        "--set model.size_pooling=false"
      ;;
    no_neighbour_match) echo "--set model.neighbour_match=false" ;;
    no_dim_fit) echo "--set model.dim_fit=false" ;;
    no_layout_agreement) echo "--set model.layout_agreement=false" ;;
    no_operand_copies) echo "--set model.operand_copies=false" ;;
    no_kept_layout_fit) echo "--set model.kept_layout_fit=false" ;;
    linear_cost) echo "--set model.node_cost=linear" ;;
    one_cost_channel) echo "--set model.cost_channels=1" ;;
    weight_decay) echo "--set train.weight_decay=0.001" ;;
    tile) echo "" ;;
    dropout | tile_dropout) echo "--set model.dropout=0.1" ;;
    tile_listmle) echo "--set model.dropout=0.1 --set train.loss=listmle" ;;
    tile_nofit) echo "--set model.dropout=0.1 --set model.tile_fit=false" ;;
    tile_noalign) echo "--set model.dropout=0.1 --set model.tile_align=false" ;;
    tile_late_dropout) echo "--set model.dropout=0.1 --set model.tile_join=late" ;;
    tile_noreg) echo "--set model.dropout=0 --set train.weight_decay=0" ;;
    tile_slowdown) echo "--set model.dropout=0.1 --set train.slowdown_weight=1" ;;
    set=*) local kv=${1#set=}; echo "--set ${kv//+/ --set }" ;;
    *) echo "learning_bench: unknown mode '$1'" >&2; return 1 ;;
  esac
}

# run DIR KIND MODE SEED: trains, then evaluates the valid split into DIR/MODE-SEED.json; the
# .time file holds "wall_seconds peak_rss_kb" of the training process.
run() {
  local dir=$1 kind=$2 mode=$3 seed=$4 name=$1/$3-$4 config steps
  [ "$kind" != tile ] && config=configs/quickstart.yaml steps=$STEPS ||
    config=configs/quickstart_tile.yaml steps=$TILE_STEPS
  rm -rf "$name"
  # shellcheck disable=SC2046
  /usr/bin/time -f "%e %M" -o "$name.time" env OMP_NUM_THREADS=1 "$GST" train \
    --config $config --run-dir "$name" --set data.store="$dir/store" \
    --set train.steps="$steps" --set train.seed="$seed" --set train.torch_threads=1 \
    --set train.valid_every=0 --set train.checkpoint_every=0 \
    $([ "$kind" != tile ] && echo "--set train.batch_graphs=4 --set gst.head_steps=0") \
    $(mode_overrides "$mode") > "$name.log" 2>&1 || { tail -20 "$name.log"; return 1; }
  "$GST" eval --run "$name" --split valid --out "$name.json" > "$name.eval.log" 2>&1 ||
    { tail -20 "$name.eval.log"; return 1; }
}

for mode in $MODES $TILE_MODES; do mode_overrides "$mode" > /dev/null || exit 2; done
mkdir -p "$WORK"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=';' read -r -a families <<< "$FAMILIES"
pids=()
for family in "${families[@]}"; do
  [ $REPORT_ONLY = 1 ] && break
  task=${family%%:*} cost=${family#*:} dir=$WORK/${family//[:,]/_}
  kind=$(task_kind "$task")
  mkdir -p "$dir"
  prepare "$task" "$cost" "$dir"
  modes=$([ "$kind" != tile ] && echo "$MODES" || echo "$TILE_MODES")
  for mode in $modes; do
    for ((seed = 0; seed < SEEDS; ++seed)); do
      run "$dir" "$kind" "$mode" "$seed" &
      pids+=($!)
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    done
  done
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || { echo "learning_bench: a run failed"; exit 1; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "| family | valid ceiling / oracle | mode | Kendall tau | top-1 / top-5 slowdown | train wall | peak RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for family in "${families[@]}"; do
  dir=$WORK/${family//[:,]/_}
  modes=$([ "$(task_kind "${family%%:*}")" != tile ] && echo "$MODES" || echo "$TILE_MODES")
  for mode in $modes; do
    /usr/bin/python3 - "$family" "$dir" "$mode" "$SEEDS" <<'PY'
import json, re, statistics as st, sys
family, d, mode, seeds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ref = open(d + "/reference.txt").read()
# The valid split's figures (what the runs are measured on); whole-collection ones where a
# collection has no such line.
m = (re.search(r"valid split .*noise ceiling tau ([0-9.]+), oracle tau ([0-9.]+)", ref) or
     re.search(r"noise ceiling tau ([0-9.]+), oracle tau ([0-9.]+)", ref))
ceiling, oracle = m.group(1), m.group(2)
ms, times = [], []
for s in range(seeds):
    ms.append(next(iter(json.load(open("%s/%s-%d.json" % (d, mode, s)))["collections"].values())))
    times.append([float(x) for x in open("%s/%s-%d.time" % (d, mode, s)).read().split()])
def ms_str(key):
    v = [m[key] for m in ms]
    return "%.3f +- %.3f" % (st.mean(v), st.stdev(v) if len(v) > 1 else 0)
print("| %s | %s / %s | %s | %s | %s / %s | %.0f s | %.2f GB |" % (
    family, ceiling, oracle, mode, ms_str("kendall_tau"), ms_str("slowdown_top1"),
    ms_str("slowdown_top5"), st.mean(t[0] for t in times), max(t[1] for t in times) / 2**20))
PY
  done
done
