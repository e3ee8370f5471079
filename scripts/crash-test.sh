#!/usr/bin/env bash
# crash-test.sh: kills a training run with SIGKILL at random moments and resumes it each
# time, then checks that the run ended as if nothing had happened:
#   - model.safetensors is bit-identical (sha256) to an uninterrupted run's;
#   - train_log.csv has no duplicate row and every row but the throughput column equals the
#     uninterrupted run's;
#   - no temporary file (*.tmp.*) is left in the run directory.
# A kill before the first checkpoint leaves a failed start, which `train` restarts in place
# (no --resume); later kills resume from the checkpoint. The kill schedule (one delay per
# life) comes from a seeded generator: the seed is printed, and --seed repeats the schedule.
#
# usage: scripts/crash-test.sh [--kills N] [--seed S] [--bin PATH] [--work DIR] [--keep]
#   --kills N   SIGKILLs to deliver (default 24)
#   --seed S    the schedule's seed (default: from the clock, printed)
#   --bin PATH  the sparsead binary (default build-cpu/sparsead, else build/sparsead)
#   --work DIR  scratch directory (default: a new one under /tmp, removed unless --keep)
# Exit status 0 when every check passes, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=24 seed="" bin="" work="" keep=0
die() { echo "crash-test: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --kills) kills="${2:?--kills needs a value}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
    --bin) bin="${2:?--bin needs a value}"; shift 2 ;;
    --work) work="${2:?--work needs a value}"; shift 2 ;;
    --keep) keep=1; shift ;;
    --help | -h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$kills" =~ ^[0-9]+$ && "$kills" -ge 1 ]] || die "--kills must be a positive integer"
[[ -z "$seed" ]] && seed=$(( $(date +%s%N) % 1000000 ))
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed must be a non-negative integer"
if [[ -z "$bin" ]]; then
  for b in build-cpu/sparsead build/sparsead; do [[ -x "$b" ]] && { bin="$b"; break; }; done
fi
[[ -n "$bin" && -x "$bin" ]] || die "no sparsead binary (build one, or pass --bin)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
if [[ -z "$work" ]]; then work=$(mktemp -d /tmp/sparsead-crash.XXXXXX); else mkdir -p "$work"; fi
((keep)) || trap 'rm -rf "$work"' EXIT

# A small run: 180 steps, a checkpoint with every log row (about 80 in all).
train_args=(--data "$work/data" --set image_size=32 width=8 --steps-gan 120 --steps-seg 60 --batch 4
            --quiet --threads 1)
"$bin" synth --out "$work/data" --size 32 --channels 1 --train 16 --test-good 2 --per-defect 1 \
  --defects crack >/dev/null

echo "crash-test: seed $seed, $kills kills, binary $bin"
t0=$(date +%s%N)
"$bin" train "${train_args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 || { cat "$work/ref.log"; die "the uninterrupted run failed"; }
ref_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "crash-test: uninterrupted run: $ref_ms ms"

# Delays uniform in [20 ms, 1.6 * ref / kills]: on average the kills cover about 80 % of the
# run, so the last life finishes it. The first two lives die within 20..120 ms, before any
# checkpoint (startup, dataset indexing): the failed-start path. bash's RANDOM, seeded, is
# the schedule.
RANDOM=$seed
max_ms=$(( ref_ms * 16 / (10 * kills) )); ((max_ms > 40)) || max_ms=40
run="$work/crash"
done_kills=0 lives=0 restarts=0 resumes=0 schedule=()
while :; do
  args=("${train_args[@]}" --out "$run")
  if [[ -f "$run/checkpoint.safetensors" ]]; then args+=(--resume); resumes=$((resumes + 1)); else restarts=$((restarts + 1)); fi
  lives=$((lives + 1))
  if ((done_kills >= kills)); then
    "$bin" train "${args[@]}" >>"$work/crash.log" 2>&1 || { tail -5 "$work/crash.log"; die "the final resume failed"; }
    break
  fi
  if ((done_kills < 2)); then delay=$(( 20 + RANDOM % 100 )); else delay=$(( 20 + (RANDOM * 32768 + RANDOM) % (max_ms - 19) )); fi
  "$bin" train "${args[@]}" >>"$work/crash.log" 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    done_kills=$((done_kills + 1))
    schedule+=("$delay")
  else
    if wait "$pid"; then break; fi  # finished before its kill
    tail -5 "$work/crash.log"; die "a life failed by itself (see above)"
  fi
done
echo "crash-test: $done_kills kills after ${schedule[*]} ms; $lives lives ($restarts fresh starts, $resumes resumes)"

fail=0
ref_sha=$(sha256sum "$work/ref/model.safetensors" | cut -d' ' -f1)
crash_sha=$(sha256sum "$run/model.safetensors" | cut -d' ' -f1)
echo "model sha256, uninterrupted: $ref_sha"
echo "model sha256, killed $done_kills times: $crash_sha"
if [[ "$ref_sha" == "$crash_sha" ]]; then echo "PASS model bit-identical"; else echo "FAIL models differ"; fail=1; fi

dups=$(cut -d, -f1,2 "$run/train_log.csv" | sort | uniq -d | wc -l)
strip() { awk -F, -v OFS=, '{NF--; print}' "$1"; }  # all but the last column (images_per_s)
if ((dups == 0)) && diff <(strip "$work/ref/train_log.csv") <(strip "$run/train_log.csv") >/dev/null; then
  echo "PASS train_log.csv: $(($(wc -l <"$run/train_log.csv") - 1)) rows, no duplicates, equal to the uninterrupted log"
else
  echo "FAIL train_log.csv: $dups duplicate rows, or rows differ from the uninterrupted log:"
  diff <(strip "$work/ref/train_log.csv") <(strip "$run/train_log.csv") | head -10 || true
  fail=1
fi
leftovers=$(find "$run" -name '*.tmp.*' | wc -l)
if ((leftovers == 0)); then echo "PASS no temporary files left"; else echo "FAIL temporary files left:"; find "$run" -name '*.tmp.*'; fail=1; fi
((done_kills >= 20)) || echo "note: only $done_kills kills landed (the run finished early); rerun with another --seed"
exit $fail
