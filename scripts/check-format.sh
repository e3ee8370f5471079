#!/usr/bin/env bash
# check-format.sh: every C++/CUDA source is formatted as .clang-format says, by the pinned
# clang-format 14 (another version formats differently). Lists the files that differ and
# exits 1; `clang-format-14 -i FILE` fixes one.
#
# usage: scripts/check-format.sh [--self-test]
#   --self-test  first plants a misformatted line in a copy of a file and requires the check
#                to find it
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-14}
command -v "$cf" >/dev/null || { echo "check-format: $cf not found (apt-get install clang-format-14)" >&2; exit 2; }

files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' '*.inc'
  else
    find tensor kernels autograd layers data eval model apps bench tests fuzz \
      \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.inc' \) | sort
  fi
}

if [[ ${1:-} == --self-test ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp .clang-format "$tmp/"
  { cat tensor/check.cpp; echo 'int   planted_misformat ( ){return 1;}'; } >"$tmp/planted.cpp"
  if (cd "$tmp" && "$cf" --dry-run --Werror planted.cpp) >/dev/null 2>&1; then
    echo "check-format: self-test FAILED: the planted misformatted line was not found" >&2
    exit 1
  fi
  echo "check-format: self-test found the planted misformatted line"
fi
bad=()
while IFS= read -r f; do
  "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(files)
if ((${#bad[@]})); then
  printf 'check-format: not formatted (%s -i FILE): %s\n' "$cf" "${bad[@]}" >&2
  exit 1
fi
echo "check-format: $(files | wc -l) files formatted as .clang-format says ($("$cf" --version | head -1))"
