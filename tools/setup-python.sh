#!/usr/bin/env bash
# The Python environment of tools/ (the PyTorch reference in tools/torch_ref, the golden
# fixture scripts, bench/torch_bench.py): a virtual environment with torch, safetensors,
# numpy, scikit-learn, Pillow (bench/torch_bench.py's latency phase decodes with it) and
# scipy (tools/make_metric_fixtures.py needs it). Only people who regenerate
# fixtures need it; building and testing sparsead never does.
#
#   tools/setup-python.sh                      # into <repo>/.venv (gitignored)
#   VENV=/some/dir tools/setup-python.sh       # elsewhere
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu tools/setup-python.sh
#                                              # the small CPU-only torch wheel
#
# Idempotent: an existing environment is reused, and pip skips what is already there.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
torch_args=()
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    torch_args=(--index-url "$TORCH_INDEX_URL")
fi
"$venv/bin/python" -m pip install --quiet ${torch_args[@]+"${torch_args[@]}"} torch
"$venv/bin/python" -m pip install --quiet safetensors numpy scikit-learn scipy pillow
"$venv/bin/python" - <<'PY'
import numpy, safetensors, scipy, sklearn, torch
print(f"torch {torch.__version__}, safetensors {safetensors.__version__}, numpy {numpy.__version__}, "
      f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}")
PY
echo "== ready: $venv/bin/python"
