#!/usr/bin/env bash
# The test command: builds and runs the whole suite twice.
#   1. build/       Release, CUDA backend compiled whenever nvcc exists (SPARSEAD_CUDA=AUTO);
#                   GPU tests report themselves skipped on a machine without a GPU.
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, CPU only; any report fails.
# Usage: scripts/test.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
run_asan=1
for a in "$@"; do
    case "$a" in
        --no-asan) run_asan=0 ;;
        *) echo "usage: scripts/test.sh [--no-asan]" >&2; exit 2 ;;
    esac
done

start=$(date +%s)
# ctest runs each doctest case by name, and doctest reads ',' and ';' in a name filter as
# separators: such a case would match nothing and be reported skipped instead of run.
if grep -nE 'TEST_CASE\("[^"]*[,;]' tests/*.cpp; then
    echo "error: TEST_CASE names must not contain ',' or ';' (see above)" >&2
    exit 1
fi
echo "== [1/2] Release build (SPARSEAD_CUDA=AUTO)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA=AUTO >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

if [ "$run_asan" = 1 ]; then
    echo "== [2/2] ASan + UBSan build (CPU only)"
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARSEAD_CUDA=OFF \
        -DSPARSEAD_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$jobs"
    # halt_on_error: the first report fails the test; leaks are errors too.
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:exitcode=23"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    (cd build-asan && ctest --output-on-failure -j "$jobs")
fi
echo "== all tests passed in $(( $(date +%s) - start )) s"
