#!/usr/bin/env bash
# Install the headless browser that tests/test_serve_page.py drives (Debian/Ubuntu): chromium and
# its chromedriver, with apt-get, only when they are missing. Run as root (or through sudo).
# Elsewhere, install any Chromium/Chrome and a matching chromedriver on PATH; the test looks for
# chromium, chromium-browser, google-chrome and chromedriver there (or $PADDLEMATTING_BROWSER /
# $PADDLEMATTING_CHROMEDRIVER).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup_browser.sh: no apt-get here; install Chromium and chromedriver by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -q
# Debian names them chromium / chromium-driver; Ubuntu's chromium-browser is a snap wrapper
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
