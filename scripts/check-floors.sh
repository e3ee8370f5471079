#!/usr/bin/env bash
# check-floors.sh: no include runs up a floor. The floors, lowest first (README's layout):
#   tensor < kernels < autograd < layers < data, eval < model < apps
# A file may include its own directory and any lower floor; data and eval stand side by
# side and do not include each other. bench/, tests/, fuzz/ and tools/ sit above everything.
# Prints each upward include as FILE:LINE: the include, and exits 1 when there is one.
# The same check keeps every source file (those floors plus bench/, tests/, fuzz/) at or
# under 600 lines: a file that grows past it is split by what its parts do.
#
# usage: scripts/check-floors.sh [--self-test] [ROOT]
#   --self-test  plants an upward include (tensor/ including model/) and a 601-line file in a
#                copy of the tree and requires the check to find both, then checks ROOT
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A floor=([tensor]=0 [kernels]=1 [autograd]=2 [layers]=3 [data]=4 [eval]=4 [model]=5 [apps]=6)

check() {  # check ROOT: prints violations, returns 1 if any
  local root=$1 bad=0 dir file line target
  for dir in "${!floor[@]}"; do
    [[ -d $root/$dir ]] || continue
    while IFS=: read -r file line target; do
      target=${target#*\"}
      target=${target%%/*}
      [[ -n ${floor[$target]:-} ]] || continue  # a system or third-party header
      [[ $target == "$dir" ]] && continue
      if ((floor[$target] >= floor[$dir])); then
        echo "${file#"$root"/}:$line: $dir/ (floor ${floor[$dir]}) includes $target/ (floor ${floor[$target]})"
        bad=1
      fi
    done < <(grep -rnE --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' --include='*.inc' \
               '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$root/$dir" || true)
  done
  return $bad
}

max_lines=600
check_sizes() {  # check_sizes ROOT: prints each source file over max_lines, returns 1 if any
  local root=$1 bad=0 n file dirs=()
  for file in "${!floor[@]}" bench tests fuzz; do [[ -d $root/$file ]] && dirs+=("$root/$file"); done
  while read -r n file; do
    [[ $file == total ]] && continue
    if ((n > max_lines)); then
      echo "${file#"$root"/}: $n lines (at most $max_lines: split it by what its parts do)"
      bad=1
    fi
  done < <(find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' -o -name '*.inc' \) \
             -exec wc -l {} + | sort -rn)
  return $bad
}

if [[ ${1:-} == --self-test ]]; then
  shift
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for d in "${!floor[@]}"; do [[ -d $d ]] && cp -r "$d" "$tmp/"; done
  echo '#include "model/config.h"  // planted' >>"$tmp/tensor/check.h"
  if out=$(check "$tmp"); then
    echo "check-floors: self-test FAILED: the planted upward include was not found" >&2
    exit 1
  fi
  echo "check-floors: self-test found the planted include: $out"
  for _ in $(seq 601); do echo '// planted'; done >"$tmp/kernels/planted_long.cpp"
  if out=$(check_sizes "$tmp"); then
    echo "check-floors: self-test FAILED: the planted 601-line file was not found" >&2
    exit 1
  fi
  echo "check-floors: self-test found the planted long file: $out"
fi
root=${1:-.}
status=0
if check "$root"; then
  echo "check-floors: no include runs up a floor (tensor < kernels < autograd < layers < data, eval < model < apps)"
else
  echo "check-floors: FAILED: the includes above run up a floor" >&2
  status=1
fi
if check_sizes "$root"; then
  echo "check-floors: no source file is over $max_lines lines"
else
  echo "check-floors: FAILED: the files above are over $max_lines lines" >&2
  status=1
fi
exit $status
