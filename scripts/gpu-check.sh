#!/usr/bin/env bash
# The GPU check of sparsead, for a bare GPU machine (no network, no apt; it has nvcc,
# cmake, ninja and PyTorch): builds Release with CUDA for sm_90 against .gpu-bundle/
# (made by scripts/gpu-bundle.sh on a machine with apt), runs the whole test suite,
# runs compute-sanitizer (memcheck, racecheck) on the CUDA parity tests restricted to
# our own kernels (instrumenting cuDNN/cuBLAS kernels is very slow and not ours to fix),
# runs the GPU benchmarks if a sparsead-bench binary was built (and our steps against
# PyTorch's when tools/torch_ref and torch are there), and prints a one-screen
# summary. Meant to finish in under 8 minutes on an H200; each step has a time limit.
#
#   scripts/gpu-check.sh               the full check (stops at once without a GPU)
#   scripts/gpu-check.sh --build-only  configure + build against the bundle + CPU tests,
#                                      no GPU needed (a dry run of the build)
#
# Logs: build-gpu/gpu-check/*.log; copied to $OUT as well when that is set (the device
# tool's output folder). Exit status: 0 all passed, 1 a step failed, 2 no GPU / no bundle.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_only=0
[[ ${1:-} == --build-only ]] && build_only=1
build=$root/build-gpu
logs=$build/gpu-check
cuda=${CUDA_HOME:-/usr/local/cuda}
start=$SECONDS
summary=()
failed=0

say() { echo "gpu-check: $*"; }

# ---- a GPU? ------------------------------------------------------------------------------------
if ((!build_only)); then
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    say "no GPU on this machine (nvidia-smi -L lists none): nothing to check here."
    say "(scripts/gpu-check.sh --build-only checks the build against the bundle without a GPU)"
    exit 2
  fi
fi

# ---- the bundle ----------------------------------------------------------------------------------
bundle=$root/.gpu-bundle
if [[ ! -f $bundle/sysroot.tar.gz ]]; then
  say "no $bundle/sysroot.tar.gz: run scripts/gpu-bundle.sh on a machine with apt first"
  exit 2
fi
mkdir -p "$logs"
sys=$build/sysroot
if [[ ! -f $sys/MANIFEST || $bundle/sysroot.tar.gz -nt $sys/MANIFEST ]]; then
  rm -rf "$sys" && mkdir -p "$sys" && tar -C "$sys" -xzf "$bundle/sysroot.tar.gz" || {
    say "cannot unpack the bundle"
    exit 2
  }
fi
blas_dir=$sys/usr/lib/x86_64-linux-gnu/openblas-openmp

# Fortran/OpenMP runtimes of OpenBLAS: the bundled copy only where the system has none
# (a newer system libgomp must win: our own OpenMP code is compiled against it).
# GPU_CHECK_FORCE_FALLBACK=1 uses all of them (to test the fallback on a full machine).
mkdir -p "$sys/ld"
rm -f "$sys"/ld/*
for lib in "$sys"/fallback-lib/*; do
  name=$(basename "$lib")
  if [[ ${GPU_CHECK_FORCE_FALLBACK:-0} == 1 ]] || ! ldconfig -p 2>/dev/null | grep -qE "^[[:space:]]+$name[[:space:]]"; then
    ln -s "$lib" "$sys/ld/$name"
  fi
done

# ---- cuDNN: the toolkit's, CUDNN_ROOT, or the PyTorch wheel's; headers from the bundle last ----
cudnn_inc="" cudnn_lib=""
py_cudnn=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
for dir in ${CUDNN_ROOT:-} "$cuda" "$cuda/targets/x86_64-linux" $py_cudnn; do
  [[ -z $cudnn_inc && -f $dir/include/cudnn.h ]] && cudnn_inc=$dir/include
  for f in "$dir"/lib64/libcudnn.so "$dir"/lib/libcudnn.so "$dir"/lib64/libcudnn.so.9 "$dir"/lib/libcudnn.so.9; do
    [[ -z $cudnn_lib && -e $f ]] && cudnn_lib=$f
  done
done
if [[ -z $cudnn_lib ]]; then
  cudnn_lib=$(ldconfig -p 2>/dev/null | awk '/libcudnn\.so\.9 /{print $NF; exit}')
fi
[[ -z $cudnn_inc ]] && cudnn_inc=$sys/cudnn/include
if [[ -z $cudnn_lib ]]; then
  ((build_only)) || {
    say "no cuDNN library found (toolkit, CUDNN_ROOT, python3's nvidia.cudnn, ldconfig)"
    exit 2
  }
  cudnn_lib=NOTFOUND
fi
cudnn_libdir=$(dirname "$cudnn_lib")

export LD_LIBRARY_PATH=$blas_dir:$sys/usr/lib/x86_64-linux-gnu:$sys/ld:$cudnn_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvcc=$(command -v nvcc || echo "$cuda/bin/nvcc")
export PATH=$(dirname "$nvcc"):$PATH

# Runs one step with a time limit: step NAME LIMIT_S COMMAND...; records PASS/FAIL/TIMEOUT,
# the seconds taken and the last informative line of its log for the summary.
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS rc
  say "$name ..."
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1
  rc=$?
  local status=PASS
  ((rc == 124 || rc == 137)) && status="TIMEOUT(${limit}s)"
  ((rc != 0 && rc != 124 && rc != 137)) && status="FAIL(rc=$rc)"
  [[ $status != PASS ]] && failed=1
  local note
  note=$(grep -E 'tests passed|test cases:|ERROR SUMMARY|RACECHECK SUMMARY|error:|Error|FAILED' "$logs/$name.log" |
    tail -1 | cut -c1-90)
  summary+=("$(printf '%-10s %-14s %4ds  %s' "$name" "$status" $((SECONDS - t0)) "$note")")
  [[ $status == PASS ]]
}

# ---- configure and build ------------------------------------------------------------------------------
arch=${CUDA_ARCH:-90}
step configure 120 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DCMAKE_LIBRARY_PATH="$blas_dir" -DCMAKE_PREFIX_PATH="$sys/usr" \
  -Ddoctest_DIR="$sys/usr/lib/cmake/doctest" -Dbenchmark_DIR="$sys/usr/lib/x86_64-linux-gnu/cmake/benchmark" \
  -DSPARSEAD_CBLAS_INCLUDE="$sys/usr/include/x86_64-linux-gnu/openblas-openmp" \
  -DSPARSEAD_STB_INCLUDE="$sys/usr/include" \
  -DSPARSEAD_CUDNN_INCLUDE="$cudnn_inc" -DSPARSEAD_CUDNN_LIB="$cudnn_lib"
configured=$?
if ((configured == 0)); then
  step build 300 ninja -C "$build" -j"$(nproc)"
  built=$?
else
  built=1
fi

# ---- tests ------------------------------------------------------------------------------------------------
if ((built == 0)); then
  # 8 test processes x 2 threads: the 16 cores without oversubscription (each process would
  # otherwise start one OpenMP thread per core).
  step ctest 150 bash -c "cd '$build' && SPARSEAD_THREADS=2 ctest -j8 --timeout 120 --output-on-failure"
  # On a GPU machine no CUDA test may be skipped: that would mean the probe failed. Only the
  # CUDA cases (named "cuda ...") count: "cli bad input: --device cuda without a GPU" skips
  # by design where a GPU is present.
  if ((!build_only)) && grep -E '[0-9]+ - cuda[^(]*\(Skipped\)' "$logs/ctest.log" | grep -q .; then
    failed=1
    summary+=("$(printf '%-10s %-14s %4s   %s' gpu-tests FAIL - "CUDA tests were SKIPPED on a GPU machine")")
  fi
fi

# ---- compute-sanitizer on our own kernels -------------------------------------------------------------------
# Our kernels live in namespace sad::cuda, so their mangled names (what the filter sees)
# hold "3sad4cuda"; cuDNN's and cuBLAS's kernels then run uninstrumented. Override with
# SANITIZER_FILTER (compute-sanitizer's --kernel-regex syntax).
if ((!build_only && built == 0)); then
  sanitizer=$(command -v compute-sanitizer || echo "$cuda/bin/compute-sanitizer")
  filter=${SANITIZER_FILTER:-kns=3sad4cuda}
  tests=$build/sparsead_tests
  if [[ -x $sanitizer ]]; then
    for tool in memcheck racecheck; do
      step "$tool" 90 "$sanitizer" --tool "$tool" --kernel-regex "$filter" --error-exitcode 1 --print-limit 20 \
        --report-api-errors no "$tests" --test-case='cuda*'
    done
  else
    summary+=("$(printf '%-10s %-14s' sanitizer "SKIP (no compute-sanitizer)")")
  fi
fi

# ---- benchmarks ---------------------------------------------------------------------------------------------
# The GPU half of sparsead-bench (bench/, docs/BENCHMARKS.md): every benchmark whose name
# holds /cuda/, short minimum times, JSON beside the logs (bench.json). The CPU half is
# measured on our own machine. SPARSEAD_BENCH_ARGS replaces these flags.
if ((!build_only && built == 0)) && [[ -x $build/sparsead-bench ]]; then
  bench_args=${SPARSEAD_BENCH_ARGS:---benchmark_filter=/cuda/ --benchmark_min_time=0.2 --benchmark_out=$logs/bench.json --benchmark_out_format=json}
  # shellcheck disable=SC2086  # a list of flags
  step bench 240 "$build/sparsead-bench" $bench_args
elif ((!build_only && built == 0)); then
  summary+=("$(printf '%-10s %-14s' bench "SKIP (no sparsead-bench: Google Benchmark not found)")")
fi
# Our training steps and inference against PyTorch's at the paper preset (bench/compare_torch.sh:
# time and GPU memory ratios), when the PyTorch twin (tools/torch_ref) and a python3 with torch
# are there.
if ((!build_only && built == 0)) && [[ -x $build/sparsead-steps && -d $root/tools/torch_ref ]] &&
  python3 -c 'import torch' 2>/dev/null; then
  step torch 240 "$root/bench/compare_torch.sh" --device cuda --preset paper --threads "$(nproc)" --steps 10 \
    --build "$build" --python "$(command -v python3)" --torch-ref "$root/tools" --json "$logs/compare-torch.json"
fi

# ---- summary --------------------------------------------------------------------------------------------------
if [[ -n ${OUT:-} && -d ${OUT:-} ]]; then
  cp "$logs"/*.log "$OUT"/ 2>/dev/null || true
  cp "$logs"/bench.json "$logs"/compare-torch.json "$OUT"/ 2>/dev/null || true
fi
echo
echo "================ sparsead gpu-check ($( ((build_only)) && echo build-only || nvidia-smi -L | head -1 | cut -c1-60)) ================"
for line in "${summary[@]}"; do echo "  $line"; done
echo "  cuDNN: $cudnn_lib (headers $cudnn_inc)"
echo "  logs:  $logs  |  total $((SECONDS - start)) s"
if ((failed)); then
  echo "gpu-check: FAILED"
  exit 1
fi
echo "gpu-check: all passed"
