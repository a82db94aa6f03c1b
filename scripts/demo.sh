#!/usr/bin/env bash
# The quick-start demo: trains MODNet-MobileNetV2 for a few dozen iterations on a tiny set
# built from the shipped photos, evaluates, predicts, runs closed-form matting with a shipped trimap
# (and the published MODNet weights when they can be downloaded) and writes a labelled picture.
# Creates ./.venv and installs the package (CPU paddle) there when needed.
# Usage: scripts/demo.sh [--out output/demo] [--iters 40]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup_env.sh
# the demo runs on CPU; keep paddle from spreading over more threads than there are cores
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(.venv/bin/python -c 'import os; print(os.cpu_count() or 1)')}
exec .venv/bin/python tools/run_demo.py "$@"
