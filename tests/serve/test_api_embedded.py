"""The embedded model (real GGUF) behind `kubebench serve`: /health while it loads, then
a few streamed tokens. Slow: loading the model takes tens of seconds on two cores."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from kubebench import defaults
from kubebench.errors import UserError
from tests.serve.conftest import RunningServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded_installed() -> None:
    from kubebench.models.embedded import embedded_gguf_path

    try:
        embedded_gguf_path()
    except UserError as exc:
        pytest.skip(f"embedded model not installed: {exc}")


def test_embedded_model_streams_tokens(
    embedded_installed: None, start_server: Callable[..., RunningServer]
) -> None:
    model = defaults.DEFAULT_MODEL
    running = start_server(models=[model], wait=False)
    # 503 while loading is asserted with a slow-loading double (test_api_protections); the
    # embedded model may load from the converted-weights cache in a few seconds.
    deadline = time.monotonic() + 240
    while httpx.get(f"{running.url}/health").status_code != 200:
        assert time.monotonic() < deadline, "the embedded model did not load"
        time.sleep(0.2)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Write a ConfigMap named demo."}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 8,
        "temperature": 0,
    }
    with httpx.stream("POST", f"{running.url}/v1/chat/completions", json=body, timeout=120) as resp:
        assert resp.status_code == 200
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert "".join(t for t in texts if t).strip()
    usage = chunks[-1]["usage"]
    assert 0 < usage["completion_tokens"] <= 8 and usage["prompt_tokens"] > 0
    provider = running.app.state.serve.pool.models[model].provider
    if hasattr(provider, "stream"):  # continuous batching streams token by token
        assert len([t for t in texts if t]) >= 2
    metrics = httpx.get(f"{running.url}/metrics").text
    assert "kubebench_serve_time_to_first_token_seconds_count" in metrics
