#!/usr/bin/env bash
# fuzz.sh: the libFuzzer targets of fuzz/ (built with clang, ASan and UBSan into build-fuzz/),
# each run from its committed corpus in tests/data/fuzz/<target>/ for SECONDS. Exits non-zero
# on any finding: a crash, a sanitizer report, a hang, a runaway allocation, or an input a
# target's rules refuse (fuzz/fuzz_util.h). Findings are saved as build-fuzz/findings/<target>-*;
# each becomes a file in tests/data/fuzz/<target>/ (so --replay checks it for ever) and, where
# it names a defect of a reader, a doctest case.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [--replay] [--merge] [--targets LIST] [--jobs N]
#   SECONDS     fuzzing time per target (default 60); CI runs 20
#   --replay    run only the committed corpora (every file once), no fuzzing
#   --merge     after fuzzing, add to tests/data/fuzz/<target>/ the inputs of the run that add
#               coverage (libFuzzer -merge=1; seeds and findings stay), to be committed
#   --targets   comma-separated subset of: model_file,json_config,image,dataset,flags
#   --jobs N    targets run N at a time (default 1)
# The summary gives, per target: executions, edge coverage (cov), features (ft), corpus size,
# peak RSS and findings.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets="model_file,json_config,image,dataset,flags"
seconds=60 replay=0 merge=0 targets="$all_targets" jobs=1
die() { echo "fuzz.sh: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --replay) replay=1; shift ;;
    --merge) merge=1; shift ;;
    --targets) (($# >= 2)) || die "--targets needs a value"; targets="$2"; shift 2 ;;
    --jobs) (($# >= 2)) || die "--jobs needs a value"; jobs="$2"; shift 2 ;;
    --help | -h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) seconds="$1"; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 1 ]] || die "SECONDS must be a positive integer"
[[ "$jobs" =~ ^[0-9]+$ && "$jobs" -ge 1 ]] || die "--jobs must be a positive integer"
IFS=, read -ra target_list <<<"$targets"
for t in "${target_list[@]}"; do [[ ",$all_targets," == *",$t,"* ]] || die "unknown target '$t'"; done

cxx="${FUZZ_CXX:-$(command -v clang++ || true)}"
[[ -n "$cxx" ]] || die "clang++ not found (apt-get install clang; scripts/install-deps.sh installs it)"
cc="${FUZZ_CC:-$(command -v clang || true)}"
echo "== building the fuzz targets (build-fuzz/, $("$cxx" --version | head -1))"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARSEAD_FUZZ=ON \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

# The longest input worth trying per target (the seeds are below these).
declare -A max_len=([model_file]=4096 [json_config]=4096 [image]=4096 [dataset]=97 [flags]=512)
out=build-fuzz/out
rm -rf "$out" build-fuzz/findings
mkdir -p "$out" build-fuzz/findings
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

run_one() {
  local t="$1" bin="build-fuzz/fuzz/fuzz_$1" seeds="tests/data/fuzz/$1" work="$out/corpus-$1"
  local common=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 "-max_len=${max_len[$t]}"
                "-artifact_prefix=build-fuzz/findings/$t-" -print_final_stats=1)
  if ((replay)); then
    "$bin" "${common[@]}" -runs=0 "$seeds" >"$out/$t.log" 2>&1
  else
    mkdir -p "$work"
    "$bin" "${common[@]}" -max_total_time="$seconds" "$work" "$seeds" >"$out/$t.log" 2>&1
  fi
}

pids=() names=()
for t in "${target_list[@]}"; do
  echo "== fuzz_$t: $( ((replay)) && echo "replaying tests/data/fuzz/$t" || echo "${seconds} s from tests/data/fuzz/$t")"
  run_one "$t" &
  pids+=($!) names+=("$t")
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
done
status=()
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then status+=(0); else status+=(1); fi
done

printf '\n%-12s %10s %7s %7s %6s %8s  %s\n' target executions cov ft corpus rss_mb findings
failed=0
for i in "${!names[@]}"; do
  t="${names[$i]}" log="$out/${names[$i]}.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  found=$(find build-fuzz/findings -name "$t-*" -type f | wc -l)
  verdict="$found"
  if ((status[i] != 0 || found > 0)); then
    failed=1
    verdict="$found FAILED (log: $log)"
  fi
  printf '%-12s %10s %7s %7s %6s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$verdict"
done
if ((failed)); then
  for i in "${!names[@]}"; do
    log="$out/${names[$i]}.log"
    if ((status[i] != 0)); then echo; echo "---- end of $log"; tail -40 "$log"; fi
  done
  echo; echo "fuzz.sh: FINDINGS (inputs in build-fuzz/findings/)" >&2
  exit 1
fi

if ((merge && !replay)); then
  for t in "${target_list[@]}"; do
    # -merge=1 DIR1 DIR2 copies into DIR1 only the inputs of DIR2 that add coverage: the
    # named seeds and the regress-* findings stay.
    seeds="tests/data/fuzz/$t"
    before=$(find "$seeds" -type f | wc -l)
    "build-fuzz/fuzz/fuzz_$t" -merge=1 "-max_len=${max_len[$t]}" "$seeds" "$out/corpus-$t" >"$out/$t.merge.log" 2>&1
    echo "merged: $seeds holds $(find "$seeds" -type f | wc -l) inputs (was $before)"
  done
fi
echo "fuzz.sh: no findings"
