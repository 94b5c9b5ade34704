#!/usr/bin/env bash
# The main job on the embedded defaults: set-up, then `kubebench run` with the embedded
# SmolLM2-135M-Instruct model on the test split, graded on a local control plane.
# Extra arguments go to `kubebench run` (e.g. scripts/run.sh --stratified 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/kubebench" run "$@"
