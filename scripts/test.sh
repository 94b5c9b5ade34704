#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, lint, then every test against a real
# control plane. Extra arguments go to pytest (e.g. scripts/test.sh tests/cluster -x).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# The HTML report test drives Debian's chromium through Playwright, whose own browser
# download cannot work offline; install the distribution's browser once.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  echo "==> installing chromium (for the HTML report test)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "==> ruff"
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
echo "==> pytest"
set +e
.venv/bin/pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: treating that as a failure" >&2
  exit 1
fi
exit "$code"
