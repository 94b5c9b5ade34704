#!/usr/bin/env bash
# The browser the UI and report tests drive: Debian's chromium at /usr/bin/chromium, and
# the Playwright Python package in the venv. Playwright's own browser download cannot
# work offline, so it is never used: tests launch with executable_path=/usr/bin/chromium.
# Idempotent: does nothing when both are there. Usage: scripts/browser_setup.sh [VENV]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv}"
CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if ! command -v apt-get >/dev/null; then
    echo "browser_setup: $CHROMIUM is missing and there is no apt-get; install Chromium" \
      "so that $CHROMIUM exists (the browser tests skip without it)" >&2
  else
    echo "==> installing chromium (for the web UI and HTML report tests)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # A fresh image has no package lists; `install` alone would not find chromium.
    if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      $SUDO apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "import playwright" 2>/dev/null; then
  echo "==> installing playwright into $VENV (no browser download)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pip install -q "playwright>=1.40"
fi
