#!/usr/bin/env bash
# eval-real.sh: the real-data evaluation of docs/RESULTS.md (data set x mode x seed). Trains
# and tests each run with `sparsead` and writes one JSON per finished run to docs/results/,
# from which tools/results_table.py builds the tables: figures come from files, not by hand.
#
# A run takes hours on a shared CPU, so everything is resumable: a finished run (its JSON
# exists) is skipped, an interrupted training continues from its checkpoint, a finished
# training is not redone. To resume, run the same command again.
#
# usage: scripts/eval-real.sh [--sets LIST] [--modes LIST] [--seeds LIST] [--work DIR] [--tag NAME]
#                             [--background] [--dry-run] [--bin PATH] [-- EXTRA TRAIN ARGS...]
#   --sets LIST   comma-separated: mtd, kolektorsdd (../shared/data/<name>), mtd40 (every 19th MTD
#                 training image, 40 in all, with MTD's full test set) or the path of any MVTec-layout
#                 folder, named by its basename (default mtd,kolektorsdd,mtd40)
#   --modes LIST  sparse-kl, residual, mask-supervised (default sparse-kl,residual)
#   --seeds LIST  default 0
#   --work DIR    run directories and logs (default runs/eval-real)
#   --tag NAME    appended to run and JSON names, for ablation rows (default none)
#   --bin PATH    the binary (default build-cpu/sparsead; built when missing)
#   --background  detach with nohup, log to WORK/eval-real.log, print the PID and exit
#   --dry-run     print each run's commands and state, run nothing
#   --self-test   check the commands a dry run prints (on an empty folder as the set), then exit
#   -- ARGS       passed to every `sparsead train` (e.g. -- --set rho=0.05), recorded in the JSON
# Relative paths are relative to the repository root.
#
# residual and mask-supervised start from the finished sparse-kl run's generator
# (--init-generator): phase 1 is shared, so sparse-kl is always trained first, even when
# only the other modes are asked for. Any failure prints the end of its log and stops.
# Ctrl-C (or kill PID) lets the trainer write its checkpoint before the script exits.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sets="mtd,kolektorsdd,mtd40" modes="sparse-kl,residual" seeds="0" work="runs/eval-real" tag=""
bin="build-cpu/sparsead" background=0 dry=0 extra=() self_args=()
die() { echo "eval-real: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# --self-test: the train commands of a dry run, on an empty folder as the set. Each mode gets
# exactly one --init-generator: sparse-kl the one given among the extra arguments, the others
# the sparse-kl run's; a resumed run none. Prints PASS, or FAIL with the line at fault.
self_test() {
  local t out line n ok=1 g me="$root/scripts/eval-real.sh"
  t="$(mktemp -d)"
  trap 'rm -rf "$t"' RETURN
  mkdir -p "$t/set"
  g="$t/given.safetensors"
  expect() {  # expect MODE HOW COUNT PATTERN: MODE's train line, run HOW, has COUNT flags and PATTERN
    line="$(grep -F "] set $1 seed 0: train ($2)" <<<"$out" || true)"
    n="$(grep -o -- '--init-generator' <<<"$line" | wc -l || true)"
    if [[ -z "$line" || $((n)) -ne $3 || "$line" != *"$4"* ]]; then
      echo "FAIL $1 ($2): want $3 --init-generator and '$4' in: ${line:-(no line)}"
      ok=0
    fi
  }
  dry() { out="$(bash "$me" --dry-run "$@" 2>&1)" || { echo "FAIL: the dry run exited $?: $out"; ok=0; }; }
  dry --sets "$t/set" --modes sparse-kl,residual,mask-supervised --work "$t/work" --tag selftest \
    -- --init-generator "$g" --set rho=0.05
  expect sparse-kl fresh 1 "--init-generator $g --set rho=0.05"
  expect residual fresh 1 "--init-generator $t/work/set-sparse-kl-s0-selftest/model.safetensors --set rho=0.05"
  expect mask-supervised fresh 1 "--init-generator $t/work/set-sparse-kl-s0-selftest/model.safetensors"
  mkdir -p "$t/work/set-residual-s0-selftest" "$t/work/set-sparse-kl-s0-selftest"
  touch "$t/work/set-residual-s0-selftest/checkpoint.safetensors" "$t/work/set-sparse-kl-s0-selftest/checkpoint.safetensors"
  dry --sets "$t/set" --modes sparse-kl,residual --work "$t/work" --tag selftest \
    -- --init-generator "$g" --set rho=0.05
  expect sparse-kl resume 0 "--resume --set rho=0.05"
  expect residual resume 0 "--resume --set rho=0.05"
  if ((ok)); then echo PASS; else return 1; fi
}
[[ "${1:-}" == --self-test ]] && { self_test; exit; }
while (($#)); do
  case "$1" in
    --sets | --modes | --seeds | --work | --tag | --bin)
      (($# >= 2)) || die "$1 needs a value"
      declare "${1#--}=$2"; self_args+=("$1" "$2"); shift 2 ;;
    --background) background=1; shift ;;
    --dry-run) dry=1; self_args+=("$1"); shift ;;
    --help | -h) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
IFS=, read -ra set_list <<<"$sets"
IFS=, read -ra mode_list <<<"$modes"
IFS=, read -ra seed_list <<<"$seeds"
for m in "${mode_list[@]}"; do [[ "$m" =~ ^(sparse-kl|residual|mask-supervised)$ ]] || die "unknown mode '$m'"; done
for s in "${seed_list[@]}"; do [[ "$s" =~ ^[0-9]+$ ]] || die "bad seed '$s'"; done
[[ "$tag" =~ ^[A-Za-z0-9._-]*$ ]] || die "--tag may hold letters, digits, . _ - only"
suffix="${tag:+-$tag}"

if ((background)); then
  mkdir -p "$work"
  log="$work/eval-real.log"
  nohup "$root/scripts/eval-real.sh" "${self_args[@]}" -- "${extra[@]}" >>"$log" 2>&1 </dev/null &
  echo "eval-real: running in the background, PID $!; log: $log"
  exit 0
fi

# Seconds as h:mm:ss, for the progress lines.
hms() { awk -v t="$1" 'BEGIN { t = int(t + 0.5); printf "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60 }'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { print b - a }'; }  # seconds since a now()
load1() { cut -d' ' -f1 /proc/loadavg; }
fail() {  # fail LOG MESSAGE: the end of the log, then stop everything (no JSON for this run)
  echo "eval-real: $2; last lines of $1:" >&2
  tail -n 20 "$1" >&2 || true
  exit 1
}

# mtd40: a 40-image training subset of MTD (every 19th file in C-locale order) with MTD's
# full test set, as symlinks; built in a temporary folder and renamed so it is all or nothing.
make_mtd40() {
  local src="$root/../shared/data/mtd" dst="$work/data/mtd40" tmp i=0 f
  [[ -d "$dst/train/good" && -e "$dst/test" && -e "$dst/ground_truth" ]] && return 0
  [[ -d "$src/train/good" ]] || die "$src not found (needed for mtd40)"
  src="$(cd "$src" && pwd)"  # absolute, without "..": the links must work from any folder
  mkdir -p "$work/data"
  tmp="$(mktemp -d "$work/data/.mtd40.XXXXXX")"
  mkdir -p "$tmp/train/good"
  # shellcheck disable=SC2012  # `ls | sort` order is what defines the subset
  while IFS= read -r f; do
    i=$((i + 1))
    if ((i % 19 == 0)); then ln -s "$src/train/good/$f" "$tmp/train/good/$f"; fi
  done < <(ls "$src/train/good" | LC_ALL=C sort)
  ln -s "$src/test" "$tmp/test"
  ln -s "$src/ground_truth" "$tmp/ground_truth"
  rm -rf "$dst"
  mv "$tmp" "$dst"
  echo "eval-real: made $dst ($((i / 19)) training images)"
}

data_of() {
  case "$1" in
    mtd | kolektorsdd) echo "../shared/data/$1" ;;
    mtd40) echo "$work/data/mtd40" ;;
    *) echo "$1" ;;
  esac
}
name_of() { case "$1" in mtd | kolektorsdd | mtd40) echo "$1" ;; *) basename "$1" ;; esac; }

# The plan: per set and seed, sparse-kl first (its generator is shared), then the others.
# Each entry is "set|mode|seed|full": full=0 trains sparse-kl only as the others' generator.
plan=()
want() { local m; for m in "${mode_list[@]}"; do [[ "$m" == "$1" ]] && return 0; done; return 1; }
for set in "${set_list[@]}"; do
  for seed in "${seed_list[@]}"; do
    if want sparse-kl; then plan+=("$set|sparse-kl|$seed|1"); else plan+=("$set|sparse-kl|$seed|0"); fi
    for m in residual mask-supervised; do want "$m" && plan+=("$set|$m|$seed|1"); done
  done
done

# Without setsid the trainer would hear Ctrl-C twice (from the terminal and from here),
# and a second SIGINT aborts it without a checkpoint.
command -v setsid >/dev/null || setsid() { "$@"; }
# Does a mode other than sparse-kl still need to train from sparse-kl's generator?
gen_needed() {  # gen_needed NAME SEED
  local m
  for m in "${mode_list[@]}"; do
    [[ "$m" == sparse-kl ]] && continue
    [[ -f "docs/results/$1-$m-seed$2$suffix.json" || -e "$work/$1-$m-s$2$suffix/checkpoint.safetensors" ||
      -e "$work/$1-$m-s$2$suffix/model.safetensors" ]] || return 0
  done
  return 1
}
child=""
on_signal() {  # the trainer runs in its own session, so it hears one SIGINT: from here
  if [[ -n "$child" ]]; then kill -INT "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  echo "eval-real: stopped; run the same command again to resume" >&2
  exit 130
}
trap on_signal INT TERM

# Training in the background, printing the log's last line every 60 s. A resumed session
# appends to the log, so that it keeps the whole run's history.
train_watch() {  # train_watch LOG HOW CMD...
  local log="$1" next=60 t0 t rc=0
  if [[ "$2" == resume ]]; then echo "=== eval-real: resumed $(date -u +%FT%TZ)" >>"$log"; else : >"$log"; fi
  shift 2
  t0="$(date +%s)"
  setsid "$@" >>"$log" 2>&1 </dev/null &
  child=$!
  while kill -0 "$child" 2>/dev/null; do
    sleep 2
    t=$(($(date +%s) - t0))
    if ((t >= next)); then
      next=$((t + 60))
      echo "    $(hms "$t") $(tail -n 1 "$log" 2>/dev/null | tr '\r' '\n' | tail -n 1)"
    fi
  done
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

if ((!dry)) && [[ ! -x "$bin" ]]; then
  echo "eval-real: $bin not found; building it"
  cmake -S . -B build-cpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARSEAD_CUDA=OFF
  cmake --build build-cpu --target sparsead
  bin="build-cpu/sparsead"
fi
((dry)) || mkdir -p docs/results
total=${#plan[@]} k=0 t_all="$(now)"
echo "eval-real: $total runs; work $work; train args: ${extra[*]:-(none)}"
for entry in "${plan[@]}"; do
  IFS='|' read -r set mode seed full <<<"$entry"
  k=$((k + 1))
  name="$(name_of "$set")" data="$(data_of "$set")"
  run="$work/$name-$mode-s$seed$suffix"
  json="docs/results/$name-$mode-seed$seed$suffix.json"
  gen="$work/$name-sparse-kl-s$seed$suffix/model.safetensors"
  head="[$k/$total] $name $mode seed $seed"
  ((full)) || head+=" (generator only)"
  if ((full)) && [[ -f "$json" ]]; then
    # A finished sparse-kl whose run folder is gone is retrained when another mode needs it.
    if [[ "$mode" != sparse-kl || -f "$run/model.safetensors" ]] || ! gen_needed "$name" "$seed"; then
      echo "$head: done ($json)"
      continue
    fi
    full=0 head+=" (generator only)"
  fi
  if ((!full)) && { [[ -f "$run/model.safetensors" ]] || ! gen_needed "$name" "$seed"; }; then
    echo "$head: nothing to do"
    continue
  fi
  if [[ "$set" == mtd40 ]]; then
    if ((!dry)); then make_mtd40; elif [[ ! -d "$data" ]]; then echo "$head: would make $data (symlinks)"; fi
  fi
  [[ -d "$data" ]] || [[ "$set" == mtd40 && $dry == 1 ]] || die "data '$data' not found"
  cmd=("$bin" train --data "$data" --out "$run" --preset cpu --seed "$seed" --mode "$mode" --quiet)
  if [[ -f "$run/model.safetensors" ]]; then how="skip"
  elif [[ -f "$run/checkpoint.safetensors" ]]; then how="resume"; cmd+=(--resume)
  else
    how="fresh"
    [[ "$mode" == sparse-kl ]] || cmd+=(--init-generator "$gen")
  fi
  # An --init-generator among the extra arguments (a segmenter-only lever's) is sparse-kl's
  # alone: a resumed run keeps its generator in the checkpoint, the other modes take the
  # sparse-kl run's (the same G) above, and train refuses the flag twice or with --resume.
  i=0
  while ((i < ${#extra[@]})); do
    if [[ "${extra[i]}" == --init-generator && ("$how" == resume || "$mode" != sparse-kl) ]]; then
      i=$((i + 2))
      continue
    fi
    cmd+=("${extra[i]}")
    i=$((i + 1))
  done
  tcmd=("$bin" test --model "$run/model.safetensors" --data "$data" --out "$run/test" --quiet --no-panels)
  if ((dry)); then
    echo "$head: train ($how): ${cmd[*]} > $run.train.log 2>&1"
    ((full)) && echo "$head: test: ${tcmd[*]} > $run.test.log 2>&1; then write $json"
    continue
  fi
  load_start="$(load1)" wall_train="" t_run="$(now)"
  if [[ "$how" == skip ]]; then
    echo "$head: trained already ($run/model.safetensors)"
  else
    if [[ "$how" == fresh ]]; then
      rm -rf "$run"  # a start that failed before its first checkpoint (if any)
      [[ "$mode" == sparse-kl || -f "$gen" ]] || die "generator $gen missing"
    fi
    echo "$head: training ($how) ... log: $run.train.log"
    t0="$(now)"
    train_watch "$run.train.log" "$how" "${cmd[@]}" || fail "$run.train.log" "training $run failed"
    wall_train="$(since "$t0")"
    echo "$head: trained in $(hms "$wall_train")"
  fi
  ((full)) || continue
  wall_test=""
  if [[ -f "$run/test/metrics.json" ]]; then
    echo "$head: tested already ($run/test/metrics.json)"
  else
    rm -rf "$run/test"  # a test that stopped half-way
    echo "$head: testing ... log: $run.test.log"
    t0="$(now)"
    "${tcmd[@]}" >"$run.test.log" 2>&1 </dev/null || fail "$run.test.log" "testing $run failed"
    wall_test="$(since "$t0")"
    echo "$head: tested in $(hms "$wall_test")"
  fi
  init=""
  [[ "$mode" == sparse-kl ]] || init="$gen"
  python3 - "$json" "$name" "$data" "$mode" "$seed" "$tag" "$run" "$wall_train" "$wall_test" \
    "$how" "$load_start" "$(load1)" "$init" "${extra[@]}" <<'EOF' || die "writing $json failed"
import datetime, hashlib, json, os, subprocess, sys
(out, name, data, mode, seed, tag, run, wtrain, wtest, how, l0, l1, init), args = sys.argv[1:14], sys.argv[14:]
load = lambda p: json.load(open(p))
rate = lambda steps, secs: steps / secs if steps and secs else None
def git(*a):
    r = subprocess.run(["git", *a], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None
cfg, summary = load(f"{run}/config.json"), load(f"{run}/summary.json")
sha = hashlib.sha256()
with open(f"{run}/model.safetensors", "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        sha.update(block)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.lower().startswith(("model name", "hardware", "cpu model"))), None)
status = git("status", "--porcelain", "--untracked-files=no")
record = {
    "set": name, "data": data, "mode": mode, "seed": int(seed), "tag": tag, "train_args": args,
    "init_generator": init or None,
    "commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status),
    "config": cfg, "dataset_digest": cfg.get("dataset_digest"), "summary": summary,
    "steps_per_s": {"gan": rate(summary.get("steps_gan"), summary.get("seconds_gan")),
                    "seg": rate(summary.get("steps_seg"), summary.get("seconds_seg"))},
    # This invocation's times only (null when done before; partial on a resume, which
    # "train_how" tells); summary's seconds_* add up every session of the training.
    "wall_s": {"train": float(wtrain) if wtrain else None, "train_how": how, "test": float(wtest) if wtest else None},
    "loadavg": {"start": float(l0), "end": float(l1)},
    "model_sha256": sha.hexdigest(), "metrics": load(f"{run}/test/metrics.json"),
    "alarm": cfg.get("alarm", ""), "host": {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu},
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}
with open(out + ".tmp", "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
os.replace(out + ".tmp", out)
EOF
  echo "$head: wrote $json (run $(hms "$(since "$t_run")"))"
done
((dry)) && exit 0
echo "eval-real: all $total runs done in $(hms "$(since "$t_all")"); results:"
python3 tools/results_table.py
