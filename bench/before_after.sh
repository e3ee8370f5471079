#!/usr/bin/env bash
# A change measured the way issue "CPU speed" asks: the binary before and the binary after
# (two build folders) and the PyTorch twin, interleaved phase by phase, repeated for
# several rounds, so that a change in machine load hits all three alike. Prints, per
# thread count and phase, the median over the rounds of each run's median step time, the
# rounds' range, and the ratios after / before and after / PyTorch; writes every run's
# JSON with --json.
#
#   bench/before_after.sh --before DIR --after DIR [--rounds 3] [--threads "1 2"]
#                         [--phases "phase1 phase2 inference latency"] [--steps 5]
#                         [--latency-steps 50] [--python PY] [--no-torch] [--json FILE]
#
# Each run is its own process (sparsead-steps / bench/torch_bench.py, as compare_torch.sh
# runs them), at the cpu preset and batch 16 (the latency phase: batch 1). The load
# average is recorded before and after each round.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
before="" after="" rounds=3 threads_list="1 2" phases="phase1 phase2 inference latency" steps=5 latency_steps=50
python="" torch=1 json=""
while (($#)); do
  case $1 in
    --no-torch) torch=0; shift; continue ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  (($# >= 2)) || { echo "before_after.sh: $1 needs a value (see --help)" >&2; exit 2; }
  case $1 in
    --before) before=$2 ;;
    --after) after=$2 ;;
    --rounds) rounds=$2 ;;
    --threads) threads_list=$2 ;;
    --phases) phases=$2 ;;
    --steps) steps=$2 ;;
    --latency-steps) latency_steps=$2 ;;
    --python) python=$2 ;;
    --json) json=$2 ;;
    *) echo "before_after.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
for b in "$before" "$after"; do
  [[ -n $b && -x $b/sparsead-steps ]] || { echo "before_after.sh: no sparsead-steps in '$b' (--before/--after)" >&2; exit 2; }
done
if ((torch)) && [[ -z $python ]]; then
  for p in ${VENV:+$VENV/bin/python} /work/venv-torch/bin/python $repo/.venv/bin/python; do
    [[ -x $p ]] && { python=$p; break; }
  done
  [[ -n $python ]] || { echo "before_after.sh: no Python with torch (--python, or --no-torch)" >&2; exit 2; }
fi
report_python=${python:-python3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((r = 1; r <= rounds; r++)); do
  echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/loads"
  for t in $threads_list; do
    export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t SPARSEAD_THREADS=$t
    for phase in $phases; do
      args=(--phase "$phase" --preset cpu --threads "$t" --device cpu)
      if [[ $phase == latency ]]; then args+=(--batch 1 --steps "$latency_steps" --warmup 3); else args+=(--batch 16 --steps "$steps"); fi
      echo "before_after.sh: round $r/$rounds, $t thread(s), $phase ..." >&2
      "$before/sparsead-steps" "${args[@]}" >"$tmp/before-$t-$phase-$r.json"
      "$after/sparsead-steps" "${args[@]}" >"$tmp/after-$t-$phase-$r.json"
      if ((torch)); then
        PYTHONPATH=$repo/tools${PYTHONPATH:+:$PYTHONPATH} "$python" "$repo/bench/torch_bench.py" "${args[@]}" \
          >"$tmp/torch-$t-$phase-$r.json"
      fi
    done
  done
  echo "round $r end load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/loads"
done

"$report_python" - "$tmp" "$rounds" "$threads_list" "$phases" "$json" "$before" "$after" <<'PY'
import json, os, statistics, sys
tmp, rounds, threads_list, phases, out, before, after = sys.argv[1:8]
rounds = int(rounds)
loads = open(os.path.join(tmp, "loads")).read().strip().splitlines()
runs = {}
for name in sorted(os.listdir(tmp)):
    if name.endswith(".json"):
        runs[name[:-5]] = json.load(open(os.path.join(tmp, name)))
print(f"before: {before}\nafter:  {after}\n{rounds} rounds, interleaved before / after / torch per phase")
for line in loads:
    print("  " + line)
def stat(side, t, phase):
    ms = [runs[f"{side}-{t}-{phase}-{r}"]["median_ms"] for r in range(1, rounds + 1) if f"{side}-{t}-{phase}-{r}" in runs]
    return (statistics.median(ms), min(ms), max(ms)) if ms else None
print()
print("| threads | phase | before ms (range) | after ms (range) | after / before | torch ms (range) | after / torch | peak RSS MiB after / torch |")
print("|---|---|---|---|---|---|---|---|")
for t in threads_list.split():
    for phase in phases.split():
        b, a, tt = stat("before", t, phase), stat("after", t, phase), stat("torch", t, phase)
        cell = lambda s: f"{s[0]:.1f} ({s[1]:.1f}-{s[2]:.1f})" if s else "-"
        ratio_t = f"**{a[0] / tt[0]:.2f}x**" if tt else "-"
        rss = "-"
        if tt:
            ra = max(runs[f"after-{t}-{phase}-{r}"]["peak_rss_mib"] for r in range(1, rounds + 1))
            rt = max(runs[f"torch-{t}-{phase}-{r}"]["peak_rss_mib"] for r in range(1, rounds + 1))
            rss = f"{ra:.0f} / {rt:.0f} ({ra / rt:.2f}x)"
        print(f"| {t} | {phase} | {cell(b)} | {cell(a)} | {a[0] / b[0]:.2f}x | {cell(tt)} | {ratio_t} | {rss} |")
if out:
    json.dump({"before": before, "after": after, "rounds": rounds, "loads": loads, "runs": runs}, open(out, "w"), indent=1)
PY
