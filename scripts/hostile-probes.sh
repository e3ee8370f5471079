#!/usr/bin/env bash
# hostile-probes.sh: the bad inputs of issue 12 ("Hostile input and crashes"), each run against a
# sparsead binary, with a table of outcomes. A probe passes when the binary does what a serious
# tool must: refuse with exit 1 or 2 and exactly one "sparsead: error:" line that names the
# file and escapes control characters, leave no output behind, or (for inputs that are
# fine) succeed. Runs in about a minute; the kill -9 probes of training are in crash-test.sh.
# The memory errors of the two stb probes (2.) show only under a sanitizer: a release build of
# an unguarded decoder overflows or over-allocates silently and then fails with stb's reason.
#
# usage: scripts/hostile-probes.sh [--bin PATH] [--work DIR]
#   --bin PATH  the binary to probe (default build-cpu/sparsead, else build/sparsead); an older
#               build shows which probes failed before their fix (docs/ROBUSTNESS.md)
#   --work DIR  scratch directory (default: a new one under /tmp, removed at the end)
# Exit status: the number of failed probes (0: all passed).
set -uo pipefail
cd "$(dirname "$0")/.."

bin="" work=""
while (($#)); do
  case "$1" in
    --bin) bin="${2:?}"; shift 2 ;;
    --work) work="${2:?}"; shift 2 ;;
    --help | -h) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hostile-probes: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$bin" ]]; then for b in build-cpu/sparsead build/sparsead; do [[ -x "$b" ]] && { bin="$b"; break; }; done; fi
[[ -n "$bin" && -x "$bin" ]] || { echo "hostile-probes: no sparsead binary (pass --bin)" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
if [[ -z "$work" ]]; then work=$(mktemp -d /tmp/sparsead-probes.XXXXXX); trap 'rm -rf "$work"' EXIT; else mkdir -p "$work"; fi
W="$work"

# ---- fixtures: a tiny set, a tiny model, and files crafted from them ---------------------------
"$bin" synth --out "$W/ds" --size 32 --channels 3 --train 8 --test-good 2 --per-defect 1 --defects hole,crack >/dev/null
"$bin" train --data "$W/ds" --out "$W/run" --epochs-gan 1 --epochs-seg 1 --set image_size=32 width=4 --quiet \
  >"$W/train.log" 2>&1 || { cat "$W/train.log"; echo "hostile-probes: the fixture model did not train" >&2; exit 2; }
M="$W/run/model.safetensors"
IMG="$W/ds/test/hole/000.png"

# edit_model OUT [--nan TENSOR] [--cfg KEY JSONVALUE]: a copy of the model with one change.
edit_model() {
  python3 - "$M" "$@" <<'PY'
import json, struct, sys
src, out, *ops = sys.argv[1:]
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); data = bytearray(raw[8 + n:])
while ops:
    op, *rest = ops
    if op == '--nan':
        e = hdr[rest[0]]; b = e['data_offsets'][0]
        data[b:b + 4] = struct.pack('<f', float('nan')); ops = rest[1:]
    else:
        cfg = json.loads(hdr['__metadata__']['config']); cfg[rest[0]] = json.loads(rest[1])
        hdr['__metadata__']['config'] = json.dumps(cfg); ops = rest[2:]
js = json.dumps(hdr).encode(); js += b' ' * ((8 - (8 + len(js)) % 8) % 8)
open(out, 'wb').write(struct.pack('<Q', len(js)) + js + bytes(data))
PY
}
head_bias=$(python3 -c "
import json,struct,sys; r=open('$M','rb').read(); n=struct.unpack('<Q',r[:8])[0]; h=json.loads(r[8:8+n])
print([k for k in h if k.startswith('S.') and k.endswith('bias')][-1])")
edit_model "$W/nan.safetensors" --nan "$head_bias"
edit_model "$W/mode.safetensors" --cfg mode '"bogus"'
edit_model "$W/range.safetensors" --cfg image_score_min 2 --cfg image_score_max 1
edit_model "$W/sigma.safetensors" --cfg residual_sigma 1e9
edit_model "$W/size.safetensors" --cfg image_size 1099511627776

python3 - "$W" <<'PY'
import struct, sys, zlib
W = sys.argv[1]
def dht(symbols):
    counts = [0] * 16; left = symbols; i = 15
    while left > 0: c = min(left, 255); counts[i] = c; left -= c; i -= 1
    t = bytes([0]) + bytes(counts) + b'\x01' * symbols
    return b'\xff\xc4' + struct.pack('>H', len(t) + 2) + t
sof = b'\xff\xc0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00'
scan = b'\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00' + b'\x55' * 64
open(W + '/huffman-early.png', 'wb').write(b'\xff\xd8' + sof + dht(400) + scan + b'\xff\xd9')
open(W + '/huffman-late.jpg', 'wb').write(b'\xff\xd8' + sof + dht(10) + scan + dht(300) + scan + b'\xff\xd9')
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
ihdr = chunk(b'IHDR', struct.pack('>IIBBBBB', 8, 8, 8, 0, 0, 0, 0))
open(W + '/chunk-past-end.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + ihdr + struct.pack('>I', 1200000000) + b'IDAT' + b'\x00' * 16)
big = chunk(b'IHDR', struct.pack('>IIBBBBB', 30000, 4, 8, 0, 0, 0, 0))
open(W + '/oversized.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + big + chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))
open(W + '/bad\x1b[31mname.png', 'wb').write(b'not an image')
import random; random.seed(5)
raw = b''.join(b'\x00' + bytes(random.getrandbits(8) for _ in range(256 * 3)) for _ in range(256))
open(W + '/noise256.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 256, 256, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY

# ---- the probes -------------------------------------------------------------------------------
rows=() failed=0
# run NAME CMD...: runs the command, keeps rc and stderr for the verdict.
run() { "$@" >"$W/out.txt" 2>"$W/err.txt"; rc=$?; }
# The error line, the scratch directory shown as W, cut to fit a table row.
first_error() { grep -m1 'sparsead: error:' "$W/err.txt" | cut -c18- | sed "s#$W#W#g" | cut -c1-120 | tr -d '\033'; }
refused() {  # refused NAME [MUST_NAME] [NO_DIR]: exit 1/2, one error line, naming MUST_NAME, NO_DIR absent
  local ok=1 why=""
  ((rc == 1 || rc == 2)) || { ok=0; why="exit $rc"; }
  (($(grep -c 'sparsead: error:' "$W/err.txt") == 1)) || { ok=0; why="${why:+$why, }not one error line"; }
  [[ -z "${2:-}" ]] || grep -qF -- "$2" "$W/err.txt" || { ok=0; why="${why:+$why, }does not name $(basename "$2")"; }
  [[ -z "${3:-}" || ! -e "$3" ]] || { ok=0; why="${why:+$why, }left $(basename "$3")"; }
  ! grep -q $'\033' "$W/err.txt" || { ok=0; why="${why:+$why, }raw control character"; }
  record "$1" "$ok" "${why:-exit $rc: $(first_error)}"
}
accepted() {  # accepted NAME [CHECK_DESCRIPTION CHECK_RESULT]
  local ok=1 why="exit $rc"
  ((rc == 0)) || { ok=0; why="exit $rc: $(first_error)"; }
  [[ $# -ge 3 ]] && why="$why; $2"
  if [[ $# -ge 3 && "$3" != 0 ]]; then ok=0; fi
  record "$1" "$ok" "$why"
}
record() {
  rows+=("$(printf '%-46s %-4s %s' "$1" "$( (($2)) && echo PASS || echo FAIL)" "$3")")
  (($2)) || failed=$((failed + 1))
}

run "$bin" predict --model "$W/nan.safetensors" --input "$IMG" --out "$W/p1" --quiet
refused "1. NaN weight: predict" "nan.safetensors" "$W/p1"
run "$bin" test --model "$W/nan.safetensors" --data "$W/ds" --out "$W/p2" --quiet
refused "1. NaN weight: test" "nan.safetensors" "$W/p2"
run "$bin" info --model "$W/nan.safetensors"
refused "1. NaN weight: info" "nan.safetensors"
run "$bin" predict --model "$M" --input "$W/huffman-early.png" --out "$W/p3" --quiet
refused "2. JPEG Huffman table > 256 symbols (.png name)" "huffman-early.png" "$W/p3"
run "$bin" predict --model "$M" --input "$W/huffman-late.jpg" --out "$W/p4" --quiet
refused "2. the same table after the first scan" "huffman-late.jpg" "$W/p4"
run "$bin" predict --model "$M" --input "$W/chunk-past-end.png" --out "$W/p5" --quiet
refused "2. PNG chunk of 1.2 GB in a 70-byte file" "chunk-past-end.png" "$W/p5"
for m in mode range sigma size; do
  run "$bin" predict --model "$W/$m.safetensors" --input "$IMG" --out "$W/p-$m" --quiet
  refused "5. stored config ($m): predict" "$m.safetensors" "$W/p-$m"
  run "$bin" info --model "$W/$m.safetensors"
  refused "5. stored config ($m): info" "$m.safetensors"
done

# 4. a failed start: a training killed after it wrote its first file and before its first
# checkpoint, then started again in place (no --resume). The kill follows the first file's
# appearance; should the first checkpoint have been written already, it is removed, which
# leaves the same state.
"$bin" train --data "$W/ds" --out "$W/fs" --epochs-gan 1 --epochs-seg 1 --set image_size=32 width=4 --quiet >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1000); do [[ -n "$(ls -A "$W/fs" 2>/dev/null)" ]] && break; sleep 0.005; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
rm -f "$W/fs/checkpoint.safetensors"
run "$bin" train --data "$W/ds" --out "$W/fs" --epochs-gan 1 --epochs-seg 1 --set image_size=32 width=4 --quiet
accepted "4. retrain into a failed start's directory"

# 6. the smaller items.
cp "$W/ds/test/good/000.png" "$W/stem.png"
python3 -c "open('$W/ds/test/good/000.bmp','wb').write(open('$W/ds/test/good/000.png','rb').read())" 2>/dev/null
mv "$W/ds/test/good/000.bmp" "$W/ds/test/good/000.jpg.png" 2>/dev/null  # same stem "000": 000.png, 000.jpg.png
cp "$W/ds/test/good/000.png" "$W/ds/test/good/000.PNG"
run "$bin" test --model "$M" --data "$W/ds" --out "$W/stems" --quiet
panels=$(find "$W/stems/panels/good" -name '000*' 2>/dev/null | wc -l)
accepted "6. test images sharing a stem keep their panels" "$panels panels for 000.*" "$( ((panels == 3)) && echo 0 || echo 1)"
rm -f "$W/ds/test/good/000.PNG" "$W/ds/test/good/000.jpg.png"

for i in 1 2; do
  "$bin" train --data "$W/ds" --out "$W/twice" --epochs-gan 2 --epochs-seg 1 --set image_size=32 width=4 --quiet \
    >"$W/twice.$i.out" 2>"$W/twice.$i.err" &
  pids[$i]=$!
done
ok_runs=0
for i in 1 2; do wait "${pids[$i]}" && ok_runs=$((ok_runs + 1)); done
rc=0; cat "$W/twice.1.err" "$W/twice.2.err" >"$W/err.txt"
accepted "6. two trainings into one --out: one refused" "$ok_runs of 2 report success ($(first_error | cut -c1-60))" \
  "$( ((ok_runs == 1)) && echo 0 || echo 1)"

# (Not / itself: a binary without the check would write its output there.)
mkdir -p "$W/home" && echo keep >"$W/home/notes.txt"
run "$bin" test --model "$M" --data "$W/ds" --out "$W/home" --overwrite --quiet --no-panels
refused "6. --overwrite of a directory it did not write" "home"
[[ "$(ls "$W/home")" == notes.txt ]] || { rows[-1]="${rows[-1]/PASS/FAIL} (wrote into it)"; failed=$((failed + 1)); }
run "$bin" train --data "$W/ds" --out "$W/rho" --set rho=1e-300 image_size=32 width=4 --epochs-gan 1 --epochs-seg 1 --quiet
refused "6. rho=1e-300" "rho" "$W/rho"
run env SPARSEAD_CONV_L1_BUDGET=32kb "$bin" predict --model "$M" --input "$IMG" --out "$W/p8" --quiet
refused "6. a malformed SPARSEAD_CONV_L1_BUDGET" "SPARSEAD_CONV_L1_BUDGET" "$W/p8"
run "$bin" predict --model "$M" --input "$W/oversized.png" --out "$W/p6" --quiet
refused "6. a 30000 x 4 PNG is named by its size" "30000 x 4" "$W/p6"
"$bin" synth --out "$W/ds2" --size 32 --channels 3 --train 8 --test-good 2 --per-defect 1 --seed 9 >/dev/null
run "$bin" train --data "$W/ds2" --out "$W/run" --epochs-gan 1 --epochs-seg 1 --set image_size=32 width=4 --resume --quiet
len=$(wc -c <"$W/err.txt")
refused "6. --resume with other data names the key" "dataset_digest"
rows[-1]="${rows[-1]} ($len bytes)"
if ((len > 400)) && [[ ${rows[-1]} == *" PASS "* ]]; then  # the key, not two whole configs
  rows[-1]="${rows[-1]/ PASS / FAIL }"; failed=$((failed + 1))
fi
run "$bin" predict --model "$M" --input "$W/bad"$'\033'"[31mname.png" --out "$W/p7" --quiet
refused "6. control characters in a file name" "name.png" "$W/p7"
mkdir -p "$W/testonly" && cp -r "$W/ds/test" "$W/ds/ground_truth" "$W/testonly/"
run "$bin" test --model "$M" --data "$W/testonly" --out "$W/to" --quiet --no-panels
accepted "6. test without train/good"
mkdir -p "$W/in" && cp "$IMG" "$W/in/000.png" && cp "$W/noise256.png" "$W/in/zzz.png"
run prlimit --fsize=16384 "$bin" predict --model "$M" --input "$W/in" --out "$W/full" --quiet
left=$(find "$W" -maxdepth 1 -name 'full*' | wc -l)
refused "6. full disk (prlimit --fsize) in predict" "" ""
if ((left > 0)); then rows[-1]="${rows[-1]/PASS/FAIL} (left $(find "$W" -maxdepth 1 -name 'full*' -printf '%f ' ))"; failed=$((failed + 1)); fi

echo "hostile-probes: $bin"
printf '%-46s %-4s %s\n' probe "" outcome
printf '%s\n' "${rows[@]}"
echo "hostile-probes: $((${#rows[@]} - failed)) of ${#rows[@]} passed"
exit $failed
