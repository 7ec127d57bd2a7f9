#!/usr/bin/env bash
# gst's training and eval step (tests/model/gst_step_bench.cpp: config-shared and replicated
# paths) against an idiomatic PyTorch version of the same step (gst_step_bench.py: each segment
# replicated once per config) on the same batch and initial weights, torch threads 1 and 2.
# Prints graph-configs/s per phase. Not run by ctest.
#
#   tests/model/python_comparison_bench.sh [--train-steps N] [--eval-steps N]
#
# GST_STEP_BENCH: the C++ bench (default build/tests/gst_step_bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${GST_STEP_BENCH:-build/tests/gst_step_bench}
PYTHON=/usr/bin/python3  # Debian's, with python3-numpy and python3-torch
TRAIN_STEPS=3
EVAL_STEPS=3
while [ $# -gt 0 ]; do
  case $1 in
    --train-steps) TRAIN_STEPS=$2; shift 2 ;;
    --eval-steps) EVAL_STEPS=$2; shift 2 ;;
    *) echo "usage: $0 [--train-steps N] [--eval-steps N]" >&2; exit 2 ;;
  esac
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BENCH" --train-steps "$TRAIN_STEPS" --eval-steps "$EVAL_STEPS" --threads 1 2 \
  --dump-npz "$TMP/batch.npz" | tee "$TMP/gst.txt"
"$PYTHON" tests/model/gst_step_bench.py --npz "$TMP/batch.npz" --train-steps "$TRAIN_STEPS" \
  --eval-steps "$EVAL_STEPS" --threads 1,2 --warmup 1 | tee "$TMP/python.txt"
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

"$PYTHON" - "$TMP" <<'PY'
import json, sys
tmp = sys.argv[1]
ms, cpu_ms = {}, {}  # (phase, threads, path) -> wall and CPU ms/step
for line in open(f"{tmp}/gst.txt"):
    f = line.split()  # phase threads path graph-cfg/s segments/s ms/step cpu-ms/step speedup
    if len(f) == 8 and f[0] in ("train", "eval") and f[2] in ("replicated", "shared"):
        key = f[0], int(f[1]), "gst " + f[2]
        ms[key], cpu_ms[key] = float(f[5]), float(f[6])
for line in open(f"{tmp}/python.txt"):
    if line.startswith("{"):
        r = json.loads(line)
        key = r["phase"], r["threads"], "python replicated"
        ms[key], cpu_ms[key] = r["ms_per_step"], r["cpu_ms_per_step"]
        graph_configs = r["graph_configs"]  # per step, the same batch as gst's
paths = ["python replicated", "gst replicated", "gst shared"]
# The CPU-time ratio is less affected than wall time when other processes share the cores.
print("\ngraph-configs/s (higher is better)")
print("| phase | threads | " + " | ".join(paths) + " | gst shared / python | same, CPU time |")
print("|---|---|---|---|---|---|---|")
for phase in ("train", "eval"):
    for threads in (1, 2):
        keys = [(phase, threads, p) for p in paths]
        assert all(k in ms for k in keys), f"missing a measurement for {phase}, {threads} threads"
        rates = " | ".join(f"{1000 * graph_configs / ms[k]:.0f}" for k in keys)
        wall, cpu = ms[keys[0]] / ms[keys[2]], cpu_ms[keys[0]] / cpu_ms[keys[2]]
        print(f"| {phase} | {threads} | {rates} | {wall:.2f}x | {cpu:.2f}x |")
PY
