#!/usr/bin/env bash
# Real-browser check of the SADS inspector (notebook 10): JupyterLab from .venv, driven by Debian's
# headless Chromium through Selenium (scripts/browser_check.py lists what it asserts).
# Usage: bash scripts/browser_check.sh [--out DIR] [--timeout S]   run the check
#        bash scripts/browser_check.sh --install-only                install the browser (what .ci/run does)
# --install-only installs Debian's chromium and chromium-driver when missing (root and apt-get;
# about a minute). Exit status: 0 passed, 1 a check failed, 2 the browser is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
have_browser() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
if [ "${1:-}" = "--install-only" ]; then
  have_browser && exit 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "browser check: installing chromium needs root and apt-get" >&2
    exit 2
  fi
  echo "browser check: installing chromium and chromium-driver (apt-get, about a minute)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
if ! have_browser; then
  echo "browser check: chromium / chromedriver not found (as root: bash scripts/browser_check.sh --install-only)" >&2
  exit 2
fi
exec .venv/bin/python scripts/browser_check.py "$@"
