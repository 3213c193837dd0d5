#!/usr/bin/env bash
# Make .venv with dragnb and everything its notebooks and tests need (PyTorch: yours if you have one).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# a Python that already has torch (a CUDA machine's, Colab's) lends it to the venv instead of a new download
if [ ! -x .venv/bin/python ]; then
    if "$PY" -c "import torch" 2>/dev/null; then "$PY" -m venv --system-site-packages .venv; else "$PY" -m venv .venv; fi
fi
.venv/bin/python -m pip install -q --upgrade pip
# PyTorch first. A machine's own torch (say a CUDA one) is kept. Otherwise torch==2.13.0 from the
# package index; on a machine without a GPU, set TORCH_INDEX to PyTorch's CPU wheel index
# (https://download.pytorch.org/whl/cpu) so that pip takes the CPU build, not the multi-GB CUDA one.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q "torch==2.13.0" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
.venv/bin/python -m pip install -q -e ".[notebook,dev]"
