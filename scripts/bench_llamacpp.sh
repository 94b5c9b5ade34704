#!/usr/bin/env bash
# Throw-away benchmark helper: build llama.cpp's llama-server OUTSIDE the repo (in /tmp)
# from the sources vendored in the llama-cpp-python sdist, then serve the embedded
# SmolLM2 GGUF with continuous batching so `kubebench bench generation --llama-server URL`
# can compare against it. Not a product dependency; nothing here is committed but this file.
#   scripts/bench_llamacpp.sh build          # once (CPU-heavy, nice'd, -j2)
#   scripts/bench_llamacpp.sh serve [N]      # llama-server --parallel N on 127.0.0.1:8089
set -euo pipefail
WORK=${LLAMACPP_DIR:-/tmp/llamacpp}
VERSION=${LLAMACPP_PY_VERSION:-0.3.36}
PY=${PY:-/work/main/.venv/bin/python}
PORT=${PORT:-8089}

build() {
  mkdir -p "$WORK" && cd "$WORK"
  [ -f "llama_cpp_python-$VERSION.tar.gz" ] ||
    "$PY" -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d .
  [ -d "llama_cpp_python-$VERSION" ] || tar xzf "llama_cpp_python-$VERSION.tar.gz"
  src="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
  nice -n 10 cmake -S "$src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF
  nice -n 10 cmake --build "$WORK/build" --target llama-server -j2
  ls -la "$WORK/build/bin/llama-server"
}

gguf_path() {
  [ -n "${GGUF:-}" ] && { echo "$GGUF"; return; }
  "$PY" -c 'from kubebench.models.embedded import embedded_gguf_path; print(embedded_gguf_path())'
}

serve() {
  n=${1:-16}
  # One context slot of 1024 tokens per parallel stream (-c is the total).
  model=$(gguf_path)
  exec "$WORK/build/bin/llama-server" -m "$model" --host 127.0.0.1 --port "$PORT" \
    --parallel "$n" -c $((n * 1024)) -t 2 --cont-batching --no-webui
}

case "${1:-}" in
  build) build ;;
  serve) shift; serve "$@" ;;
  *) echo "usage: $0 build | serve [N]" >&2; exit 2 ;;
esac
