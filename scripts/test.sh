#!/usr/bin/env bash
# Set everything up (.venv + install) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# the browser test of the server's page needs Chromium and chromedriver: installed when missing
# and possible (apt-get as root); otherwise that one test skips and says why
bash scripts/setup_browser.sh || echo "scripts/setup_browser.sh could not install a browser: tests/test_serve_page.py will skip" >&2
# one pytest worker per core; a test file stays on one worker, so its module fixtures (models
# built once, exports) are shared; paddle itself runs one thread per process here
exec .venv/bin/python -m pytest -q -n auto --dist loadfile "$@"
