#!/usr/bin/env bash
# rule-panels.sh: panels chosen by rule, not by eye, for docs/: from a finished test run's
# scores.csv, the worst false negative (the defect image with the lowest score), the worst
# false positive (the good image with the highest score) and the median defect image (the
# defect image of median score). Each chosen image is scored again by every model given, so
# the panels of two modes (sparse-kl beside residual) show the same images.
#
# usage: scripts/rule-panels.sh --scores RUN/test/scores.csv --data DIR --out DIR
#                               [--bin PATH] NAME=MODEL [NAME=MODEL ...]
#   --scores  the scores.csv that picks the images (normally the first model's)
#   --data    the MVTec-layout set the scores came from (for the masks)
#   --out     where the panels go: OUT/<rule>-<NAME>.png, plus OUT/chosen.csv
# The images are linked into a temporary three-image set and `sparsead test` draws the
# panels (image | mask | heatmap | outline), so they are exactly what `test` draws.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/build-cpu/sparsead" scores="" data="" out="" models=()
die() { echo "rule-panels: $*" >&2; exit 1; }
while (($#)); do
  case "$1" in
    --scores | --data | --out | --bin) (($# >= 2)) || die "$1 needs a value"; declare "${1#--}=$2"; shift 2 ;;
    --help | -h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*) models+=("$1"); shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -f "$scores" ]] || die "--scores '$scores': no such file"
[[ -d "$data/test" ]] || die "--data '$data': no test/ folder"
[[ -n "$out" ]] || die "--out is required"
((${#models[@]})) || die "give at least one NAME=MODEL"
[[ -x "$bin" ]] || die "$bin not found (build it, or pass --bin)"
data="$(cd "$data" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# rule,path,type,raw_score for the three rules (ties broken by path, so the choice replays).
python3 - "$scores" >"$tmp/chosen.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
key = lambda r: (float(r["raw_score"]), r["path"])
bad = sorted((r for r in rows if r["label"] == "1"), key=key)
good = sorted((r for r in rows if r["label"] == "0"), key=key)
if not bad or not good:
    sys.exit("rule-panels: scores.csv needs good and defect images")
print("rule,path,type,raw_score")
for rule, r in (("worst-false-negative", bad[0]), ("worst-false-positive", good[-1]),
                ("median-defect", bad[(len(bad) - 1) // 2])):
    print(f"{rule},{r['path']},{r['type']},{r['raw_score']}")
EOF
mkdir -p "$tmp/set/train/good" "$out"
first=""
while IFS=, read -r rule path type _; do
  [[ "$rule" == rule ]] && continue
  case "$path" in /*) src="$path" ;; *) src="$root/$path" ;; esac
  [[ -f "$src" ]] || src="$(cd "$(dirname "$scores")" && realpath -m "$path")"
  [[ -f "$src" ]] || die "image '$path' of $scores not found"
  base="$(basename "$src")" stem="${base%.*}"
  mkdir -p "$tmp/set/test/$type"
  ln -s "$src" "$tmp/set/test/$type/$rule-$base"
  if [[ "$type" != good ]]; then
    mask="$data/ground_truth/$type/${stem}_mask.png"
    [[ -f "$mask" ]] || die "no mask $mask"
    mkdir -p "$tmp/set/ground_truth/$type"
    ln -s "$mask" "$tmp/set/ground_truth/$type/$rule-${stem}_mask.png"
  fi
  [[ -n "$first" ]] || first="$src"
done <"$tmp/chosen.csv"
ln -s "$first" "$tmp/set/train/good/$(basename "$first")"  # the layout wants one training image
for m in "${models[@]}"; do
  name="${m%%=*}" model="${m#*=}"
  [[ -f "$model" ]] || die "model '$model' not found"
  "$bin" test --model "$model" --data "$tmp/set" --out "$tmp/test-$name" --quiet >"$tmp/test-$name.log" 2>&1 ||
    { tail -n 5 "$tmp/test-$name.log" >&2; die "sparsead test failed for $name"; }
  while IFS= read -r -d '' p; do
    f="$(basename "$p" .png)"
    for r in worst-false-negative worst-false-positive median-defect; do
      [[ "$f" == "$r-"* ]] && cp "$p" "$out/$r-$name.png"
    done
  done < <(find "$tmp/test-$name/panels" -name '*.png' -print0)
done
cp "$tmp/chosen.csv" "$out/chosen.csv"
echo "rule-panels: $(find "$out" -type f | wc -l) files in $out"
