#!/usr/bin/env bash
# The demo's seed spread: the demo's data and settings (scripts/demo-config.sh), trained
# with several training seeds, each tested; prints one row per seed and writes
# WORK/seeds.json. docs/RESULTS.md ("Why this configuration: the seed spread") reads it
# after every change of numerics, which acts like a change of seed.
#
#   scripts/demo-seeds.sh [--seeds 0,1,2,3,4,5] [--work DIR] [--bin PATH] [--generators DIR]
#                         [-- EXTRA TRAIN ARGS...]
#
# --seeds       training seeds (default 0,1,2,3,4,5)
# --work        output folder (default build-cpu/demo-seeds; removed and rewritten by each run)
# --bin         the binary (default build-cpu/sparsead, which must exist: build it first)
# --generators  an earlier run's --work: each seed starts from its generator (--init-generator
#               DIR/sN/model.safetensors) and trains phase 2 only, for segmenter-only levers
# -- ARGS       appended to every `sparsead train` (e.g. -- --set ema_s=0.999), recorded in the JSON
# About 70 s per seed on 2 cores (25 s with --generators). Exit status 0 when every run
# finished, whatever its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=0,1,2,3,4,5 work=build-cpu/demo-seeds bin=build-cpu/sparsead generators=""
extra=()
while (($#)); do
  case $1 in
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  (($# >= 2)) || { echo "demo-seeds: $1 needs a value (see --help)" >&2; exit 2; }
  case $1 in
    --seeds) seeds=$2 ;;
    --work) work=$2 ;;
    --bin) bin=$2 ;;
    --generators) generators=$2 ;;
    *) echo "demo-seeds: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
[[ $seeds =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "demo-seeds: --seeds must be a comma-separated list of numbers, got '$seeds'" >&2; exit 2; }
[ -x "$bin" ] || { echo "demo-seeds: no binary at '$bin' (build it, or give --bin)" >&2; exit 2; }
if [ -e "$work" ] && [ ! -e "$work/.sparsead-demo-seeds" ]; then
  echo "demo-seeds: '$work' exists and is not an earlier demo-seeds output; choose another --work" >&2
  exit 2
fi
# shellcheck source=scripts/demo-config.sh
source scripts/demo-config.sh
IFS=, read -r -a seed_list <<<"$seeds"
if [ -n "$generators" ]; then
  [ -e "$generators/.sparsead-demo-seeds" ] || { echo "demo-seeds: --generators '$generators' is not a demo-seeds output" >&2; exit 2; }
  [ "$(realpath "$generators")" != "$(realpath -m "$work")" ] || { echo "demo-seeds: --generators must not be --work (it is rewritten)" >&2; exit 2; }
  for s in "${seed_list[@]}"; do
    [ -f "$generators/s$s/model.safetensors" ] || { echo "demo-seeds: --generators '$generators' has no s$s/model.safetensors" >&2; exit 2; }
  done
fi
rm -rf "$work"
mkdir -p "$work"
touch "$work/.sparsead-demo-seeds"

"$bin" synth --out "$work/data" "${DEMO_SYNTH_ARGS[@]}" >/dev/null
rows=()
for s in "${seed_list[@]}"; do
  t0=$(date +%s)
  init=()
  [ -z "$generators" ] || init=(--init-generator "$generators/s$s/model.safetensors")
  "$bin" train --data "$work/data" --out "$work/s$s" --seed "$s" --quiet "${DEMO_TRAIN_ARGS[@]}" "${init[@]}" "${extra[@]}" \
    >"$work/s$s.train.log" 2>&1 || { echo "demo-seeds: seed $s: training failed, see $work/s$s.train.log" >&2; tail -3 "$work/s$s.train.log" >&2; exit 1; }
  "$bin" test --model "$work/s$s/model.safetensors" --data "$work/data" --out "$work/s$s-test" --quiet --no-panels \
    >"$work/s$s.test.log" 2>&1 || { echo "demo-seeds: seed $s: test failed, see $work/s$s.test.log" >&2; exit 1; }
  secs=$(($(date +%s) - t0))
  row=$(python3 - "$work/s$s-test/metrics.json" "$s" "$secs" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps({"seed": int(sys.argv[2]), "seconds": int(sys.argv[3]),
                  **{k: m[k] for k in ("image_auroc", "pixel_auroc", "aupro")}}))
PY
)
  rows+=("$row")
  echo "$row"
done
python3 - "$work/seeds.json" "$bin" "${extra[*]:-}" "$generators" "${rows[@]}" <<'PY'
import json, os, subprocess, sys
out, binary, extra, gens = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = [json.loads(r) for r in sys.argv[5:]]
try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = ""
ok = sum(r["image_auroc"] >= 0.95 and r["pixel_auroc"] >= 0.95 for r in rows)
doc = {"commit": commit, "binary": binary, "extra_train_args": extra, "generators_from": gens or None, "runs": rows,
       "seeds_with_both_at_least_0.95": ok}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=1)
os.replace(tmp, out)
print("| seed | image AUROC | pixel AUROC | AUPRO | train + test s |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {r['seed']} | {r['image_auroc']:.3f} | {r['pixel_auroc']:.3f} | {r['aupro']:.3f} | {r['seconds']} |")
print(f"seeds with image and pixel AUROC >= 0.95: {ok} of {len(rows)}  ({out})")
PY
