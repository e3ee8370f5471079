#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, run.
# Until the method lands (issue: the method end to end) this runs the framework's
# overfit example: a small conv net must learn one fixed batch (loss falls >= 10x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA=AUTO >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target sparsead_overfit
./build/sparsead_overfit "$@"
