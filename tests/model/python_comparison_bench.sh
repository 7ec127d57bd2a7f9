#!/usr/bin/env bash
# gst's training and eval step (tests/model/gst_step_bench.cpp: config-shared and replicated
# paths) against an idiomatic PyTorch version of the same step (gst_step_bench.py: each segment
# replicated once per config) on the same batch and initial weights, torch threads 1 and 2, in fp32
# and bf16 (gst: bf16 matrix products; PyTorch: torch.autocast("cpu", bfloat16)). Prints
# graph-configs/s per phase and precision, and gst's roofline. Not run by ctest.
#
#   tests/model/python_comparison_bench.sh [--train-steps N] [--eval-steps N] [--threads "1 2"]
#       [--share S] [bench options...]
#
# --share: the configurable-node share of the batch (default 0.1; the dense-config case of the
# precision figures is 0.17). Other options go to gst_step_bench.
#
# GST_STEP_BENCH: the C++ bench (default build/tests/gst_step_bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${GST_STEP_BENCH:-build/tests/gst_step_bench}
PYTHON=/usr/bin/python3  # Debian's, with python3-numpy and python3-torch
TRAIN_STEPS=3
EVAL_STEPS=3
THREADS="1 2"
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --train-steps) TRAIN_STEPS=$2; shift 2 ;;
    --eval-steps) EVAL_STEPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --share|--graphs|--nodes|--configs|--hidden|--layers) EXTRA+=("$1" "$2"); shift 2 ;;
    *) echo "usage: $0 [--train-steps N] [--eval-steps N] [--threads \"1 2\"] [--share S]" >&2
       exit 2 ;;
  esac
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086  # THREADS is a list
"$BENCH" --train-steps "$TRAIN_STEPS" --eval-steps "$EVAL_STEPS" --threads $THREADS \
  --precision fp32 bf16 "${EXTRA[@]}" --dump-npz "$TMP/batch.npz" | tee "$TMP/gst.txt"
"$PYTHON" tests/model/gst_step_bench.py --npz "$TMP/batch.npz" --train-steps "$TRAIN_STEPS" \
  --eval-steps "$EVAL_STEPS" --threads "$(echo $THREADS | tr ' ' ,)" --precision fp32,bf16 \
  --warmup 1 | tee "$TMP/python.txt"
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

"$PYTHON" - "$TMP" <<'PY'
import json, sys
tmp = sys.argv[1]
ms, cpu_ms = {}, {}  # (phase, threads, path, precision) -> wall and CPU ms/step
for line in open(f"{tmp}/gst.txt"):
    f = line.split()  # phase threads path precision graph-cfg/s segments/s ms cpu-ms speedup
    if len(f) == 9 and f[0] in ("train", "eval") and f[2] in ("replicated", "shared"):
        key = f[0], int(f[1]), "gst " + f[2], f[3]
        ms[key], cpu_ms[key] = float(f[6]), float(f[7])
threads_seen = []
for line in open(f"{tmp}/python.txt"):
    if line.startswith("{"):
        r = json.loads(line)
        key = r["phase"], r["threads"], "python", r["precision"]
        ms[key], cpu_ms[key] = r["ms_per_step"], r["cpu_ms_per_step"]
        graph_configs = r["graph_configs"]  # per step, the same batch as gst's
        if r["threads"] not in threads_seen:
            threads_seen.append(r["threads"])
cols = [("python", "fp32"), ("python", "bf16"), ("gst replicated", "fp32"),
        ("gst shared", "fp32"), ("gst shared", "bf16")]
# The CPU-time ratio is less affected than wall time when other processes share the cores.
print("\ngraph-configs/s (higher is better; python = replicated, bf16 = autocast)")
print("| phase | threads | " + " | ".join(f"{p} {q}" for p, q in cols) +
      " | gst fp32 / py fp32 | gst bf16 / py fp32 | gst bf16 / py bf16 | same three, CPU time |")
print("|---" * (len(cols) + 6) + "|")
for phase in ("train", "eval"):
    for threads in threads_seen:
        keys = {c: (phase, threads) + c for c in cols}
        assert all(k in ms for k in keys.values()), f"missing a measurement: {phase}, {threads}"
        rates = " | ".join(f"{1000 * graph_configs / ms[keys[c]]:.0f}" for c in cols)
        def ratio(table, a, b):
            return table[keys[a]] / table[keys[b]]
        pairs = [(("python", "fp32"), ("gst shared", "fp32")),
                 (("python", "fp32"), ("gst shared", "bf16")),
                 (("python", "bf16"), ("gst shared", "bf16"))]
        wall = " | ".join(f"{ratio(ms, a, b):.2f}x" for a, b in pairs)
        cpu = " / ".join(f"{ratio(cpu_ms, a, b):.2f}x" for a, b in pairs)
        print(f"| {phase} | {threads} | {rates} | {wall} | {cpu} |")
PY
