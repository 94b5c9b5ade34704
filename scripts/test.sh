#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, lint, then every test against a real
# control plane. Extra arguments go to pytest (e.g. scripts/test.sh tests/cluster -x).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# The web UI and HTML report tests drive Debian's chromium through Playwright.
"$ROOT/scripts/browser_setup.sh" "$ROOT/.venv"
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
