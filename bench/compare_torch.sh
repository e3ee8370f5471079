#!/usr/bin/env bash
# Our training steps and inference against PyTorch's, at the same config, batch and
# thread count, in one run: each phase (phase1: G+D step, phase2: S step with the
# sparsity-prior loss, inference: G then S) runs in its own process per side
# (build/sparsead-steps and bench/torch_bench.py with the PyTorch twin tools/torch_ref),
# so each side's peak memory is that phase's alone. Prints a table of median step times
# and peak memory with the ratios ours / PyTorch (below 1.0: we are faster / smaller),
# and of the CPU time per step (what a busy machine distorts least).
#
#   bench/compare_torch.sh [--threads 2] [--batch 16] [--preset cpu|paper] [--device cpu|cuda]
#                          [--steps 5] [--latency-steps 50] [--build DIR] [--python PY] [--torch-ref DIR]
#                          [--json FILE]
# The latency row (batch 1, one image from its PNG file to its score; 0 steps: none) is
# the last; its memory columns are that process's.
#
# --python: a Python with torch (default: $VENV/bin/python, /work/venv-torch/bin/python,
#   .venv/bin/python, then python3 if it imports torch; tools/setup-python.sh makes one).
# --torch-ref: the folder holding the torch_ref package (default tools/).
# Memory: peak RSS (getrusage ru_maxrss) on the CPU; on a GPU the peak of bytes allocated
# (our caching allocator's peak_bytes vs torch.cuda.max_memory_allocated).
# The two sides alternate phase by phase, so a change in machine load hits both alike;
# the load average is printed before and after (contention distorts every number).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=2 batch=16 preset=cpu device=cpu steps=5 latency_steps=50 build=$repo/build python="" torch_ref=$repo/tools json=""
while (($#)); do
  if [[ $1 != -h && $1 != --help ]] && (($# < 2)); then
    echo "compare_torch.sh: $1 needs a value (see --help)" >&2
    exit 2
  fi
  case $1 in
    --threads) threads=$2 ;;
    --batch) batch=$2 ;;
    --preset) preset=$2 ;;
    --device) device=$2 ;;
    --steps) steps=$2 ;;
    --latency-steps) latency_steps=$2 ;;
    --build) build=$2 ;;
    --python) python=$2 ;;
    --torch-ref) torch_ref=$2 ;;
    --json) json=$2 ;;
    -h | --help)
      sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "compare_torch.sh: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
  shift 2
done

if [[ -z $python ]]; then
  for p in ${VENV:+$VENV/bin/python} /work/venv-torch/bin/python $repo/.venv/bin/python; do
    [[ -x $p ]] && { python=$p; break; }
  done
  # Last, the system's python3 when it has torch (the GPU machines do).
  if [[ -z $python ]] && python3 -c 'import torch' 2>/dev/null; then python=$(command -v python3); fi
fi
[[ -n $python && -x $python ]] || { echo "compare_torch.sh: no Python with torch (run tools/setup-python.sh or pass --python)" >&2; exit 2; }
[[ -x $build/sparsead-steps ]] || { echo "compare_torch.sh: $build/sparsead-steps not built (cmake --build $build --target sparsead-steps)" >&2; exit 2; }
[[ -d $torch_ref/torch_ref ]] || { echo "compare_torch.sh: no torch_ref package under $torch_ref (pass --torch-ref DIR)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Both sides get the same thread count through every knob they read.
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads SPARSEAD_THREADS=$threads
common=(--preset "$preset" --batch "$batch" --threads "$threads" --device "$device" --steps "$steps")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for phase in phase1 phase2 inference; do
  echo "compare_torch.sh: $phase: sparsead ..." >&2
  "$build/sparsead-steps" --phase "$phase" "${common[@]}" >"$tmp/ours_$phase.json"
  echo "compare_torch.sh: $phase: pytorch ..." >&2
  PYTHONPATH=$torch_ref${PYTHONPATH:+:$PYTHONPATH} "$python" "$repo/bench/torch_bench.py" --phase "$phase" \
    "${common[@]}" >"$tmp/torch_$phase.json"
done
# Batch-1 latency (issue 15): one image from its PNG file to its score, model already
# loaded, median of --latency-steps (default 50); needs Pillow beside torch.
if ((latency_steps > 0)); then
  lat=(--preset "$preset" --batch 1 --threads "$threads" --device "$device" --steps "$latency_steps" --warmup 3)
  echo "compare_torch.sh: latency: sparsead ..." >&2
  "$build/sparsead-steps" --phase latency "${lat[@]}" >"$tmp/ours_latency.json"
  echo "compare_torch.sh: latency: pytorch ..." >&2
  PYTHONPATH=$torch_ref${PYTHONPATH:+:$PYTHONPATH} "$python" "$repo/bench/torch_bench.py" --phase latency \
    "${lat[@]}" >"$tmp/torch_latency.json"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$python" - "$tmp" "$load_before" "$load_after" "$json" <<'PY'
import json, os, sys
tmp, load_before, load_after, out = sys.argv[1:5]
rows = []
for phase in ("phase1", "phase2", "inference", "latency"):
    if not os.path.exists(os.path.join(tmp, f"ours_{phase}.json")):
        continue
    o = json.load(open(os.path.join(tmp, f"ours_{phase}.json")))
    t = json.load(open(os.path.join(tmp, f"torch_{phase}.json")))
    rows.append((phase, o, t))
o0, t0 = rows[0][1], rows[0][2]
mem = "gpu_peak_mib" if o0["device"] == "cuda" else "peak_rss_mib"
mem_name = "GPU peak alloc" if mem == "gpu_peak_mib" else "peak RSS"
print(f"config: preset {o0['preset']} (S={o0['image_size']}, w={o0['width']}), batch {o0['batch']}, "
      f"threads {o0['threads']} (torch {t0['threads']}), device {o0['device']}, torch {t0['torch_version']}, "
      f"{len(o0['step_ms'])} timed steps (median)")
print(f"load average (1/5/15 min): before {load_before}, after {load_after}")
hdr = f"| {'phase':<10} | {'ours ms':>9} | {'torch ms':>9} | {'time ratio':>10} | {'ours ' + mem_name + ' MiB':>22} | {'torch MiB':>9} | {'mem ratio':>9} |"
print(hdr)
print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
for phase, o, t in rows:
    print(f"| {phase:<10} | {o['median_ms']:9.1f} | {t['median_ms']:9.1f} | {o['median_ms'] / t['median_ms']:9.2f}x "
          f"| {o[mem]:22.0f} | {t[mem]:9.0f} | {o[mem] / t[mem]:8.2f}x |")
# CPU time per step (all threads of the process): barely moved by other processes on the
# machine, so with one thread it compares the two implementations' compute even on a
# busy machine; with several it also counts time spent spinning at barriers.
print()
print("| phase      | ours CPU ms/step | torch CPU ms/step | CPU time ratio |")
print("|------------|------------------|-------------------|----------------|")
for phase, o, t in rows:
    print(f"| {phase:<10} | {o['median_cpu_ms']:16.1f} | {t['median_cpu_ms']:17.1f} | "
          f"{o['median_cpu_ms'] / t['median_cpu_ms']:13.2f}x |")
if mem == "peak_rss_mib":
    # The peak includes each runtime's fixed cost (libraries mapped and touched: PyTorch's
    # is hundreds of MiB before any tensor exists), so also show what the phase itself
    # added on top of the RSS after setup (models built, batch made, before the first step).
    print()
    print("| phase      | ours RSS setup | ours peak - setup | torch RSS setup | torch peak - setup | growth ratio |")
    print("|------------|----------------|-------------------|-----------------|--------------------|--------------|")
    for phase, o, t in rows:
        go, gt = o[mem] - o["rss_setup_mib"], t[mem] - t["rss_setup_mib"]
        print(f"| {phase:<10} | {o['rss_setup_mib']:14.0f} | {go:17.0f} | {t['rss_setup_mib']:15.0f} "
              f"| {gt:18.0f} | {go / gt:11.2f}x |")
if out:
    json.dump({"load_before": load_before, "load_after": load_after,
               "results": [{"phase": p, "ours": o, "torch": t} for p, o, t in rows]}, open(out, "w"), indent=1)
PY
