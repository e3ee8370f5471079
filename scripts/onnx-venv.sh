#!/usr/bin/env bash
# onnx-venv.sh: a Python virtual environment with ONNX Runtime and NumPy in .venv-onnx/
# (git-ignored), for tools/onnx_check.py and the test that runs an exported model with ONNX
# Runtime; without it that test reports itself skipped. Idempotent. Needs python3-venv and
# access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-onnx
if [[ -x $venv/bin/python ]] && $venv/bin/python -c "import onnxruntime, numpy" 2>/dev/null; then
  echo "onnx-venv: $venv ready"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check onnxruntime numpy
echo "onnx-venv: $venv ready ($("$venv/bin/python" -c 'import onnxruntime; print("onnxruntime", onnxruntime.__version__)'))"
