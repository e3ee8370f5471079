#!/usr/bin/env bash
# The test command: builds and runs the whole suite twice, then the fuzz targets briefly.
#   1. build/       Release, CUDA backend compiled whenever nvcc exists (SPARSEAD_CUDA=AUTO);
#                   GPU tests report themselves skipped on a machine without a GPU.
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, CPU only; any report fails.
#   3. build-fuzz/  the libFuzzer targets (clang, ASan + UBSan), 20 s each from the committed
#                   corpora of tests/data/fuzz, which also replays every earlier finding.
# Usage: scripts/test.sh [--no-asan] [--no-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
run_asan=1
run_fuzz=1
for a in "$@"; do
    case "$a" in
        --no-asan) run_asan=0 ;;
        --no-fuzz) run_fuzz=0 ;;
        *) echo "usage: scripts/test.sh [--no-asan] [--no-fuzz]" >&2; exit 2 ;;
    esac
done

start=$(date +%s)
# ctest runs each doctest case by name, and doctest reads ',' and ';' in a name filter as
# separators: such a case would match nothing and be reported skipped instead of run.
if grep -nE 'TEST_CASE\("[^"]*[,;]' tests/*.cpp; then
    echo "error: TEST_CASE names must not contain ',' or ';' (see above)" >&2
    exit 1
fi
echo "== [1/3] Release build (SPARSEAD_CUDA=AUTO)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA=AUTO >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

if [ "$run_asan" = 1 ]; then
    echo "== [2/3] ASan + UBSan build (CPU only)"
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARSEAD_CUDA=OFF \
        -DSPARSEAD_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$jobs"
    # halt_on_error: the first report fails the test; leaks are errors too.
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:exitcode=23"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    (cd build-asan && ctest --output-on-failure -j "$jobs")
fi
if [ "$run_fuzz" = 1 ]; then
    echo "== [3/3] fuzz targets, 20 s each (scripts/fuzz.sh)"
    bash scripts/fuzz.sh 20 --jobs "$jobs"
fi
echo "== all tests passed in $(( $(date +%s) - start )) s"
