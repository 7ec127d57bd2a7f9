#!/usr/bin/env bash
# The test command: setup (deps + build), formatting check, then the whole ctest suite and its
# wall time. The inner loop is `cd build && ctest -L unit` (labels: unit, e2e, mpi, slurm).
set -uo pipefail
cd "$(dirname "$0")/.."

bash launch/setup.sh || { echo "test: setup/build failed"; exit 1; }

status=0
echo "test: checking formatting (.clang-format)"
files=$(git ls-files 'src/*.cpp' 'src/*.h' 'sharding/*.cpp' 'sharding/*.h' 'tests/*.cpp' 'tests/*.h' 2>/dev/null ||
        find src sharding tests -name '*.cpp' -o -name '*.h')
if ! clang-format --dry-run -Werror $files; then
  echo "test: formatting check failed (run: clang-format -i <files>)"
  status=1
fi

cd build
start=$(date +%s)
if ! OMP_NUM_THREADS=1 ctest --output-on-failure -j "${GST_TEST_JOBS:-2}"; then
  status=1
fi
echo "test: suite wall time $(($(date +%s) - start)) s"
exit $status
