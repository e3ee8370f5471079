#!/usr/bin/env bash
# Installs sparsead's build dependencies from Debian packages (idempotent: installs
# only what is missing). The OpenMP build of OpenBLAS is chosen on purpose: BLAS and
# our OpenMP loops then share one thread pool instead of oversubscribing the cores.
set -euo pipefail

# clang and its runtime libraries (libFuzzer, the sanitizers): the fuzz targets (scripts/fuzz.sh);
# clang-format-14: the pinned formatter of scripts/check-format.sh.
packages=(cmake ninja-build g++ pkg-config libopenblas-openmp-dev doctest-dev libstb-dev libbenchmark-dev
          clang libclang-rt-14-dev clang-format-14)
# --test-extras: also what two optional tests need (CI passes it; without them those tests
# report themselves skipped): headless Chromium renders report.html, and python3-venv makes
# the ONNX Runtime environment of scripts/onnx-venv.sh.
if [ "${1:-}" = "--test-extras" ]; then packages+=(chromium python3-venv); fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all dependencies present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
