#!/usr/bin/env bash
# The GPU check of sparsead, for a bare GPU machine (no network, no apt; it has nvcc, cmake,
# ninja, compute-sanitizer and PyTorch, cuDNN only in PyTorch's wheel): in one call of at most
# 600 s, planned for about 5 minutes on an H200 with 16 cores. Builds Release with CUDA for
# sm_90 against .gpu-bundle/ (scripts/gpu-bundle.sh, made on a machine with apt), runs the
# CUDA test suite (doctest suite "cuda": parity of every op, the runtime), runs each
# compute-sanitizer tool on the small-shape subset of it with the caching allocator bypassed,
# each tool after its planted canary (tests/cuda_canary.cu), which the tool must report;
# then, while the time budget lasts, the GPU benchmarks and our steps against PyTorch's.
#
#   scripts/gpu-check.sh                 the full check (stops at once without a GPU)
#   scripts/gpu-check.sh --build-only    the dry run, here: configure, build and a CPU smoke test
#                                        against the bundle alone, inside a mount namespace
#                                        (unshare -m) in which the system's OpenBLAS, stb,
#                                        doctest and Google Benchmark are masked; prints the
#                                        proof (the build's header dependencies, the libraries
#                                        the loader opens)
#   scripts/gpu-check.sh --only STEP     rerun one step on the existing build (build, cuda,
#                                        memcheck, racecheck, initcheck, synccheck, bench, torch)
#   --budget S   optional steps (initcheck, synccheck, bench, torch) start only while their
#                estimate fits in S seconds from the start (default 420)
#   --no-mask    the dry run without the mount namespace (sees the system's packages)
#
# Time plan on the H200 (estimates, seconds): configure 20, build 150, cuda 40, memcheck 60,
# racecheck 60 (required: 330); initcheck 40, synccheck 30, bench 60, torch 90 (optional).
# Output: each step streams into $OUT/gpu-check.log as it runs (so a run killed at its limit
# still returns what it did), the summary goes to $OUT/summary.txt and is printed last; with
# bench.json and compare-torch.json that is 4 files of the 8 that come back. Without $OUT,
# everything stays in build-gpu/gpu-check/. Exit status: 0 all passed, 1 a step failed,
# 2 no GPU / no bundle.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_only=0 only="" budget=420 mask=1
args=("$@")
while (($#)); do
  case "$1" in
    --build-only) build_only=1; shift ;;
    --only) only="${2:?--only needs a step}"; shift 2 ;;
    --budget) budget="${2:?--budget needs seconds}"; shift 2 ;;
    --no-mask) mask=0; shift ;;
    --help | -h) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -z $only || $only =~ ^(build|cuda|memcheck|racecheck|initcheck|synccheck|bench|torch)$ ]] ||
  { echo "gpu-check: unknown step '$only'" >&2; exit 2; }
build=$root/build-gpu
logs=$build/gpu-check
cuda=${CUDA_HOME:-/usr/local/cuda}
start=$SECONDS
summary=()
failed=0

say() { echo "gpu-check: $*"; }

# ---- the dry run's mask: a private mount namespace without the system's -dev packages ----
# A bare GPU machine has none of them; hiding them from CMake would not be enough (gcc still
# searches /usr/include, the loader /usr/lib and ld.so.cache), so they are mounted over.
if ((build_only && mask)) && [[ -z ${GPU_CHECK_MASKED:-} ]]; then
  if [[ $(id -u) == 0 ]] && unshare -m --propagation private true 2>/dev/null; then
    exec unshare -m --propagation private env GPU_CHECK_MASKED=1 bash "$0" "${args[@]}"
  fi
  say "cannot mask the system's packages (needs root and unshare -m): this dry run sees them"
fi
masked=()
if [[ ${GPU_CHECK_MASKED:-} == 1 ]]; then
  ma=x86_64-linux-gnu
  for d in /usr/include/stb /usr/include/doctest /usr/include/benchmark /usr/include/$ma/openblas-openmp \
    /usr/include/$ma/openblas-pthread /usr/lib/$ma/openblas-openmp /usr/lib/$ma/openblas-pthread \
    /usr/lib/cmake/doctest /usr/lib/$ma/cmake/benchmark; do
    [[ -d $d ]] && mount -t tmpfs -o ro,size=4k none "$d" && masked+=("$d")
  done
  while IFS= read -r f; do
    [[ -e $f ]] && mount --bind /dev/null "$f" 2>/dev/null && masked+=("$f")
  done < <(find /usr/lib/$ma /usr/include /usr/include/$ma -maxdepth 1 \( -name 'libopenblas*' -o -name 'libblas*' \
    -o -name 'liblapack*' -o -name 'libbenchmark*' -o -name 'libstb*' -o -name 'cblas*.h' -o -name 'openblas_config.h' \
    -o -name 'f77blas.h' -o -name 'lapack*.h' \) 2>/dev/null)
  mount --bind /dev/null /etc/ld.so.cache && masked+=(/etc/ld.so.cache)
  say "masked ${#masked[@]} system paths (OpenBLAS, stb, doctest, Google Benchmark, ld.so.cache)"
fi

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

# Streams: every step's output goes to its own log and, as it runs, to $OUT/gpu-check.log.
stream=$logs/all.log
[[ -n ${OUT:-} && -d ${OUT:-} ]] && stream=$OUT/gpu-check.log
: >"$stream"

# step NAME LIMIT_S COMMAND...: runs with a time limit; records PASS/FAIL/TIMEOUT, the seconds
# taken and the last informative line of its log for the summary.
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS rc
  say "$name (limit ${limit}s) ..."
  echo "==== $name: $*" >>"$stream"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$logs/$name.log" >>"$stream"
  rc=${PIPESTATUS[0]}
  local status=PASS
  ((rc == 124 || rc == 137)) && status="TIMEOUT(${limit}s)"
  ((rc != 0 && rc != 124 && rc != 137)) && status="FAIL(rc=$rc)"
  [[ $status != PASS ]] && failed=1
  local note
  note=$(grep -E 'tests passed|test cases:|ERROR SUMMARY|RACECHECK SUMMARY|error:|Error|FAILED' "$logs/$name.log" |
    tail -1 | cut -c1-90)
  record "$name" "$status" $((SECONDS - t0)) "$note"
  [[ $status == PASS ]]
}
record() { summary+=("$(printf '%-10s %-16s %4ss  %s' "$1" "$2" "$3" "$4")"); }
# wanted STEP: the step runs in this call (--only selects one).
wanted() { [[ -z $only || $only == "$1" ]]; }
# fits ESTIMATE_S: an optional step starts only while its estimate fits in the budget.
fits() {
  ((SECONDS - start + $1 <= budget)) && return 0
  return 1
}

# ---- configure and build ------------------------------------------------------------------------------
arch=${CUDA_ARCH:-90}
built=0
if [[ -z $only || $only == build ]]; then
  step configure 120 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
    -DCMAKE_LIBRARY_PATH="$blas_dir" -DCMAKE_PREFIX_PATH="$sys/usr" \
    -Ddoctest_DIR="$sys/usr/lib/cmake/doctest" -Dbenchmark_DIR="$sys/usr/lib/x86_64-linux-gnu/cmake/benchmark" \
    -DSPARSEAD_CBLAS_INCLUDE="$sys/usr/include/x86_64-linux-gnu/openblas-openmp" \
    -DSPARSEAD_STB_INCLUDE="$sys/usr/include" \
    -DSPARSEAD_CUDNN_INCLUDE="$cudnn_inc" -DSPARSEAD_CUDNN_LIB="$cudnn_lib"
  if (($? == 0)); then
    step build "$( ((build_only)) && echo 3000 || echo 300)" ninja -C "$build" -j"$(nproc)"
    built=$?
  else
    built=1
  fi
fi
tests=$build/sparsead_tests
[[ -x $tests ]] || built=1

# ---- the dry run's proof and smoke test ----------------------------------------------------------------
if ((build_only && built == 0)); then
  deps=$(ninja -C "$build" -t deps 2>/dev/null)
  system_deps=$(grep -cE '^ +/usr/include/(stb|doctest|benchmark|x86_64-linux-gnu/(openblas|cblas))' <<<"$deps")
  bundle_deps=$(grep -c "$sys/" <<<"$deps")
  {
    echo "==== proof: header dependencies of the build (ninja -t deps)"
    echo "headers from the system's OpenBLAS/stb/doctest/benchmark: $system_deps; from the bundle: $bundle_deps"
    grep "$sys/" <<<"$deps" | sed "s#$sys#BUNDLE#" | sort | uniq -c | sort -rn | head -8
    echo "==== proof: libraries the loader opens for sparsead_tests (LD_DEBUG=libs)"
    LD_DEBUG=libs "$tests" --test-case=none 2>&1 | grep -E 'calling init: ' | sed "s#$sys#BUNDLE#" |
      grep -vE 'ld-linux|libc\.so|libm\.so|libpthread|libdl|librt' | awk '{print $NF}' | sort -u
  } 2>&1 | tee "$logs/proof.log" >>"$stream"
  ((system_deps == 0)) || { failed=1; record proof FAIL - "$system_deps headers from the system's packages"; }
  ((system_deps == 0)) && record proof PASS - "0 system headers, $bundle_deps from the bundle; libraries: $logs/proof.log"
  # A CPU smoke test: BLAS (gemm), stb (image), the CUDA suite reporting itself skipped.
  step smoke 300 bash -c "SPARSEAD_THREADS=$(nproc) '$tests' --test-case='gemm*,image*,json*' &&
    '$tests' --test-suite=cuda | tail -2"
fi

# ---- the CUDA suite: every case must run (none skipped) and pass ------------------------------------------
if ((!build_only && built == 0)) && wanted cuda; then
  if step cuda 120 env SPARSEAD_THREADS="$(nproc)" "$tests" --test-suite=cuda; then
    if grep -E 'test cases:.*[1-9][0-9]* skipped' "$logs/cuda.log" | grep -q .; then
      failed=1
      record cuda-skip FAIL - "CUDA suite cases were SKIPPED on a GPU machine"
    fi
  fi
fi

# ---- compute-sanitizer: each tool finds its canary, then checks the small-shape CUDA suite -------------------
# Our kernels live in namespace sad::cuda, so their mangled names hold "3sad4cuda"; cuDNN's and
# cuBLAS's kernels then run uninstrumented. The canaries live there too: the filter is proven
# to match. Override with SANITIZER_FILTER (--kernel-regex syntax).
sanitize() {  # sanitize TOOL LIMIT REPORT_REGEX
  local tool=$1 limit=$2 report=$3 t0=$SECONDS
  local cs=(env SPARSEAD_CUDA_NO_CACHE=1 SPARSEAD_PARITY_SMALL=1 SPARSEAD_THREADS="$(nproc)" "$sanitizer" --tool "$tool"
    --kernel-regex "$filter" --error-exitcode 1 --print-limit 20 --report-api-errors no)
  [[ $tool == racecheck ]] && cs+=(--racecheck-report hazard)
  SPARSEAD_CANARY=$tool timeout 60 "${cs[@]}" "$tests" --test-suite=canary >"$logs/$tool-canary.log" 2>&1
  cat "$logs/$tool-canary.log" >>"$stream"
  if grep -qiE 'device not supported|not supported on this' "$logs/$tool-canary.log"; then
    record "$tool" UNAVAILABLE $((SECONDS - t0)) "$(grep -m1 -iE 'not supported' "$logs/$tool-canary.log" | cut -c1-80)"
    return
  fi
  if ! grep -qE "$report" "$logs/$tool-canary.log"; then
    failed=1
    record "$tool" "FAIL(canary)" $((SECONDS - t0)) "the planted defect was NOT reported: the tool checks nothing"
    return
  fi
  echo "gpu-check: $tool canary reported: $(grep -m1 -E "$report" "$logs/$tool-canary.log")" | tee -a "$stream"
  step "$tool" "$limit" "${cs[@]}" "$tests" --test-suite=cuda
}
if ((!build_only && built == 0)); then
  sanitizer=$(command -v compute-sanitizer || echo "$cuda/bin/compute-sanitizer")
  filter=${SANITIZER_FILTER:-kns=3sad4cuda}
  if [[ -x $sanitizer ]]; then
    wanted memcheck && sanitize memcheck 90 'Invalid __global__ write'
    wanted racecheck && sanitize racecheck 90 'Race reported|hazard|RACECHECK SUMMARY: [1-9]'
    if wanted initcheck; then
      if [[ -n $only ]] || fits 40; then sanitize initcheck 60 'Uninitialized __global__ memory read'
      else record initcheck "SKIP(budget)" - ""; fi
    fi
    if wanted synccheck; then
      if [[ -n $only ]] || fits 30; then sanitize synccheck 60 'Barrier error|barrier'
      else record synccheck "SKIP(budget)" - ""; fi
    fi
  else
    record sanitizer "SKIP" - "no compute-sanitizer"
  fi
fi

# ---- benchmarks (optional) --------------------------------------------------------------------------------
# The GPU half of sparsead-bench (bench/, docs/BENCHMARKS.md): every benchmark whose name holds
# /cuda/, short minimum times, JSON beside the logs. SPARSEAD_BENCH_ARGS replaces these flags.
if ((!build_only && built == 0)) && wanted bench; then
  if [[ ! -x $build/sparsead-bench ]]; then
    record bench SKIP - "no sparsead-bench (Google Benchmark not found)"
  elif [[ -z $only ]] && ! fits 60; then
    record bench "SKIP(budget)" - ""
  else
    bench_json=$logs/bench.json
    [[ -n ${OUT:-} && -d ${OUT:-} ]] && bench_json=$OUT/bench.json
    bench_args=${SPARSEAD_BENCH_ARGS:---benchmark_filter=/cuda/ --benchmark_min_time=0.1 --benchmark_out=$bench_json --benchmark_out_format=json}
    # shellcheck disable=SC2086  # a list of flags
    step bench 120 "$build/sparsead-bench" $bench_args
  fi
fi
# Our training steps and inference against PyTorch's at the paper preset (bench/compare_torch.sh:
# time and GPU memory ratios), when the PyTorch twin and a python3 with torch are there.
if ((!build_only && built == 0)) && wanted torch && [[ -x $build/sparsead-steps && -d $root/tools/torch_ref ]] &&
  python3 -c 'import torch' 2>/dev/null; then
  if [[ -z $only ]] && ! fits 90; then
    record torch "SKIP(budget)" - ""
  else
    torch_json=$logs/compare-torch.json
    [[ -n ${OUT:-} && -d ${OUT:-} ]] && torch_json=$OUT/compare-torch.json
    step torch 150 "$root/bench/compare_torch.sh" --device cuda --preset paper --threads "$(nproc)" --steps 10 \
      --build "$build" --python "$(command -v python3)" --torch-ref "$root/tools" --json "$torch_json"
  fi
fi

# ---- summary: one screen, the last thing printed ------------------------------------------------------------
{
  echo
  echo "================ sparsead gpu-check ($( ((build_only)) && echo "build-only dry run${masked:+, ${#masked[@]} system paths masked}" || nvidia-smi -L | head -1 | cut -c1-60)) ================"
  echo "  commit $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ), budget ${budget}s"
  for line in "${summary[@]}"; do echo "  $line"; done
  echo "  cuDNN: $cudnn_lib (headers $cudnn_inc)"
  echo "  logs:  $logs${OUT:+ and \$OUT}  |  total $((SECONDS - start)) s"
  if ((failed)); then echo "gpu-check: FAILED"; else echo "gpu-check: all passed"; fi
} >"$logs/summary.txt"
[[ -n ${OUT:-} && -d ${OUT:-} ]] && cp "$logs/summary.txt" "$OUT/summary.txt"
cat "$logs/summary.txt"
((failed)) && exit 1
exit 0
