#!/usr/bin/env bash
# onnx-latency.sh: inference latency at batch 1 on one CPU thread, ONNX Runtime running the
# exported graph beside sparsead's own inference step (bench/sparsead-steps), in one run.
# Both time G then S on an S x S input, without image decoding or the score's post-processing.
# Run it on a quiet machine: it is a speed measurement.
#
# usage: scripts/onnx-latency.sh --model M [--steps N]
#   --model M  a model of the cpu (S 128, w 16) or paper (S 256, w 32) preset's shape
#   --steps N  timed runs of each (default 50)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="" steps=50
while (($#)); do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    *) echo "onnx-latency: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -f $model ]] || { echo "onnx-latency: --model FILE required" >&2; exit 2; }
bash scripts/onnx-venv.sh >/dev/null
cmake --build build-cpu --target sparsead sparsead-steps >/dev/null
size=$(build-cpu/sparsead info --model "$model" --json | .venv-onnx/bin/python -c 'import json,sys; c=json.load(sys.stdin); print(c["image_size"], c["width"])')
case "$size" in
  "128 16") preset=cpu ;;
  "256 32") preset=paper ;;
  *) echo "onnx-latency: the model's S and w ($size) are neither preset's" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build-cpu/sparsead export --model "$model" --out "$tmp/m.onnx" --reference "$tmp/ref" --device cpu >/dev/null
ours=$(build-cpu/sparsead-steps --phase inference --preset "$preset" --batch 1 --threads 1 --steps "$steps" --warmup 3)
ort=$(.venv-onnx/bin/python tools/onnx_check.py "$tmp/m.onnx" "$tmp/ref" --repeat "$steps")
.venv-onnx/bin/python - "$ours" "$ort" "$preset" <<'PY'
import json, sys
ours, ort, preset = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
a, b = ours["median_ms"], ort["onnxruntime_median_ms_batch1"]
print(f"preset {preset}, batch 1, 1 thread: sparsead {a:.2f} ms, onnxruntime {ort['onnxruntime']} {b:.2f} ms; "
      f"sparsead / onnxruntime = {a / b:.2f}; map agreement {ort['max_abs_map_diff']:.1e}")
PY
