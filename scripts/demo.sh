#!/usr/bin/env bash
# The quick-start demo: trains MODNet-MobileNetV2 for a few dozen iterations on a tiny set
# built from the shipped photos, evaluates, predicts and writes a side-by-side picture.
# Creates ./.venv and installs the package (CPU paddle) there when needed.
# Usage: scripts/demo.sh [--out output/demo] [--iters 40]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($PYTHON --version) ..."
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import paddle, paddlematting' >/dev/null 2>&1; then
    echo "Installing paddlematting and the CPU build of PaddlePaddle into .venv ..."
    .venv/bin/python -m pip install --upgrade pip >/dev/null
    .venv/bin/python -m pip install -e '.[cpu]'
fi
# the demo runs on CPU; keep paddle from spreading over more threads than there are cores
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(.venv/bin/python -c 'import os; print(os.cpu_count() or 1)')}
exec .venv/bin/python tools/run_demo.py "$@"
