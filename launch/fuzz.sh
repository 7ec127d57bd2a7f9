#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang under ASan + UBSan into build-fuzz/ and
# runs each for SECONDS (default 60), one after the other, printing executions, exec/s and
# findings per target. Usage: launch/fuzz.sh [SECONDS] [TARGET...]; GST_FUZZ_RUNS=N also stops a
# target after N executions; GST_FUZZ_TIMEOUT=S (default 10) is the seconds one input may take
# before it counts as a hang (raise it on a loaded machine: a starved process trips it falsely).
# Findings are written to build-fuzz/findings/<target>/; the corpus grows in build-fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(npz config manifest shard checkpoint)

PACKAGES=(clang libclang-rt-14-dev cmake pkg-config libhdf5-dev libyaml-cpp-dev libzip-dev libdeflate-dev zlib1g-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev)
source launch/debian_packages.sh
install_missing_packages fuzz "${PACKAGES[@]}"

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake -S . -B build-fuzz -DGST_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
fi
cmake --build build-fuzz -j "${GST_BUILD_JOBS:-$(nproc)}"

# Inputs are written and read back every run: keep them in memory when /dev/shm is there.
[ -w /dev/shm ] && export TMPDIR=/dev/shm
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp

printf '%-11s %12s %8s %9s\n' target executions exec/s findings > build-fuzz/fuzz-summary.txt
for t in "${TARGETS[@]}"; do
  corpus=build-fuzz/corpus/$t findings=build-fuzz/findings/$t log=build-fuzz/fuzz-$t.log
  mkdir -p "$corpus" "$findings"
  echo "fuzz: $t for ${SECONDS_PER_TARGET} s (log: $log)"
  # New inputs go to the first corpus directory only: the seeds in tests/fuzz/corpus stay as they are.
  build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
    -runs="${GST_FUZZ_RUNS:--1}" -timeout="${GST_FUZZ_TIMEOUT:-10}" -print_final_stats=1 -artifact_prefix="$findings/" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || true
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  found=$(find "$findings" -type f | wc -l)
  printf '%-11s %12s %8s %9s\n' "$t" "${runs:-?}" "${rate:-?}" "$found" | tee -a build-fuzz/fuzz-summary.txt
done
echo
cat build-fuzz/fuzz-summary.txt
echo "fuzz: a finding is fixed in its reader and kept under tests/fuzz/regressions/<target>/ (see tests/fuzz/README.md)"
