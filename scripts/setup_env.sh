#!/usr/bin/env bash
# Create .venv (if missing) and install paddlematting into it, editable.
# PaddlePaddle: if the venv already has a paddle (e.g. paddlepaddle-gpu installed by hand),
# it is kept; otherwise the CPU build is installed through the `cpu` extra.
# Re-running is cheap: the install is skipped while setup.py is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  # the grep drops pip's notes about index folders this machine's pip.conf names but lacks
  .venv/bin/python -m pip install -q --upgrade pip \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
fi
stamp=.venv/.paddlematting-install
want=$(sha256sum setup.py | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import paddle, paddlematting" 2>/dev/null; then
  exit 0
fi
if .venv/bin/python -c "import paddle" 2>/dev/null; then extras="classical,test,onnx,serve"; else extras="cpu,classical,test,onnx,serve"; fi
echo "Installing paddlematting[$extras] into .venv (first run only: about 2-4 minutes, ~1 GB of" \
     "wheels, mostly PaddlePaddle; later runs skip this) ..."
# PYTHONWARNINGS: setuptools' advice box about editable installs is not for our users;
# the grep drops pip's notes about index folders this machine's pip.conf names but lacks
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e ".[$extras]" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$want" > "$stamp"
