#!/usr/bin/env bash
# Installs gst's Debian dependencies (only those missing) and builds Release into build/.
# Idempotent and fast when nothing changed. Usage: launch/setup.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ccache clang-format git
  libtorch-dev libopenblas0-openmp libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev libgtest-dev
  libzip-dev libdeflate-dev libmetis-dev libbenchmark-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev
  python3-numpy python3-h5py python3-torch gnuplot-nox time
)

source launch/debian_packages.sh
install_missing_packages setup "${PACKAGES[@]}"

JOBS=${GST_BUILD_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
elif [ $# -gt 0 ]; then
  cmake -S . -B build "$@"
fi
cmake --build build -j "$JOBS"
echo "setup: built build/gst"
