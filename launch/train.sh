#!/usr/bin/env bash
# Thin mpirun wrapper for `gst train`: ranks, hosts, binding, torch threads per rank, NCCL env.
#
#   launch/train.sh [-n RANKS] [-H HOSTFILE] [-t THREADS] [--gpus] -- gst-train-arguments...
#
#   -n RANKS     MPI ranks (default 2)
#   -H HOSTFILE  Open MPI hostfile for multi-node runs (lines "node01 slots=4")
#   -t THREADS   torch/OpenMP threads per rank (default: cores / ranks on one node, at least 1)
#   --gpus       one GPU per rank (dist.backend=nccl); exports NCCL settings below
# Extra mpirun options can be passed in GST_MPIRUN_ARGS. Example (2 nodes x 4 GPUs):
#   launch/train.sh -n 8 -H hosts.txt --gpus -- --config configs/layout_xla_random.yaml
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=2 hostfile="" threads="" gpus=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) ranks=$2; shift 2 ;;
    -H) hostfile=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    --gpus) gpus=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "train.sh: unknown option $1 (gst arguments go after --)" >&2; exit 2 ;;
  esac
done
[ -n "$threads" ] || threads=$(( $(nproc --all) / ranks > 0 ? $(nproc --all) / ranks : 1 ))

args=(-np "$ranks" --bind-to none -x OMP_NUM_THREADS="$threads" -x GST_TORCH_THREADS="$threads")
[ -n "$hostfile" ] && args+=(--hostfile "$hostfile")
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
[ "$ranks" -gt "$(nproc --all)" ] && [ -z "$hostfile" ] && args+=(--oversubscribe)
if [ "$gpus" -eq 1 ]; then
  # NCCL picks interfaces itself; these make failures visible and keep IB/socket choice overridable.
  args+=(-x NCCL_DEBUG="${NCCL_DEBUG:-WARN}" -x NCCL_ASYNC_ERROR_HANDLING=1)
  [ -n "${NCCL_SOCKET_IFNAME:-}" ] && args+=(-x NCCL_SOCKET_IFNAME)
  set -- --set dist.backend=nccl "$@"
fi
# shellcheck disable=SC2086
exec mpirun "${args[@]}" ${GST_MPIRUN_ARGS:-} build/gst train "$@"
