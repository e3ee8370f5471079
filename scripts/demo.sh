#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build `sparsead`, generate a
# small synthetic dataset with a fixed seed, train the default method (sparse-kl) at a
# small size, test it, and print the metrics and where the panels are. Well under the
# 5 minutes allowed on 2 CPU cores: 102 s from a fresh clone (55 s of it the build).
#
#   scripts/demo.sh              the method end to end (output under build-cpu/demo/, or
#                                build/demo/ on a GPU machine)
#   scripts/demo.sh --overfit    the framework's smoke test: a small conv net must overfit
#                                one batch (loss falls >= 10x); further flags go to it
#
# Environment: SPARSEAD_DEMO_DIR (default <build>/demo; removed and rewritten by each run),
# SPARSEAD_BUILD_DIR (default build, or build-cpu when SPARSEAD_CUDA is OFF),
# SPARSEAD_CUDA (AUTO, ON or OFF; default AUTO when nvidia-smi sees a GPU, else OFF).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)
# Without a GPU the demo runs on the CPU, so it skips compiling the CUDA kernels (minutes
# on 2 cores) and builds a CPU-only binary in its own folder; with one, the full build.
if [ -z "${SPARSEAD_CUDA:-}" ]; then
    if nvidia-smi -L >/dev/null 2>&1; then SPARSEAD_CUDA=AUTO; else SPARSEAD_CUDA=OFF; fi
fi
if [ "$SPARSEAD_CUDA" = OFF ]; then default_build=build-cpu; else default_build=build; fi
build=${SPARSEAD_BUILD_DIR:-$default_build}

bash scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA="$SPARSEAD_CUDA" >/dev/null

if [ "${1:-}" = "--overfit" ]; then
    shift
    cmake --build "$build" -j "$jobs" --target sparsead_overfit
    exec "./$build/sparsead_overfit" "$@"
fi
if [ $# -gt 0 ]; then
    echo "usage: scripts/demo.sh [--overfit [flags for sparsead_overfit]]" >&2
    exit 2
fi

echo "== build ($jobs jobs)"
cmake --build "$build" -j "$jobs" --target sparsead
built=$(date +%s)
sparsead="./$build/sparsead"

demo=${SPARSEAD_DEMO_DIR:-$build/demo}
# Only ever the demo's own folder: refuse anything that does not look like one.
if [ -e "$demo" ] && [ ! -e "$demo/.sparsead-demo" ]; then
    echo "demo: '$demo' exists and is not a previous demo's output; set SPARSEAD_DEMO_DIR elsewhere" >&2
    exit 1
fi
rm -rf "$demo"
mkdir -p "$demo"
touch "$demo/.sparsead-demo"

# The demo's dataset and settings: scripts/demo-config.sh.
# shellcheck source=scripts/demo-config.sh
source scripts/demo-config.sh
echo "== synth: a procedural dataset (seed 1)"
"$sparsead" synth --out "$demo/data" "${DEMO_SYNTH_ARGS[@]}"

echo "== train: sparse-kl (phase 1 GAN, phase 2 segmenter)"
"$sparsead" train --data "$demo/data" --out "$demo/run" --seed 0 "${DEMO_TRAIN_ARGS[@]}"

echo "== test"
"$sparsead" test --model "$demo/run/model.safetensors" --data "$demo/data" --out "$demo/test" --quiet

end=$(date +%s)
echo
echo "demo: metrics  $demo/test/metrics.json"
echo "demo: panels   $demo/test/panels/<type>/<image>.png (image | mask | heatmap | outline)"
echo "demo: model    $demo/run/model.safetensors (sparsead info --model ...; sparsead predict ...)"
echo "demo: wall time $((end - start)) s (build $((built - start)) s, synth + train + test $((end - built)) s)"
