"""What guards `kubebench serve`: the API key, the per-client rate limit, the body size
limit, bounded generation, /health while models load, and the safe default bind."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kubebench.errors import UserError
from kubebench.serve.app import create_app
from kubebench.serve.protections import TokenBucket
from kubebench.serve.settings import ServeSettings
from tests.serve.conftest import RunningServer, chat_script, wait_healthy

USER = [{"role": "user", "content": "hi"}]


def test_a_missing_or_wrong_key_gets_401_when_one_is_required(
    start_server: Callable[..., RunningServer],
) -> None:
    url = start_server(api_key="s3cret").url
    assert httpx.get(f"{url}/health").status_code == 200  # probes need no key
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        resp = httpx.get(f"{url}/v1/models", headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error"]["type"] == "authentication_error"
        assert resp.headers["www-authenticate"] == "Bearer"
    assert httpx.post(f"{url}/v1/validate", json={"yaml": "a: b"}).status_code == 401
    assert httpx.get(f"{url}/api/tasks").status_code == 401
    assert httpx.get(f"{url}/metrics").status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    assert httpx.get(f"{url}/v1/models", headers=good).status_code == 200


def test_another_host_needs_a_key_unless_insecure(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="without an API key"):
        create_app(ServeSettings(host="0.0.0.0"))
    ServeSettings(host="0.0.0.0", api_key="k").check()
    ServeSettings(host="0.0.0.0", insecure=True).check()
    ServeSettings(host="::1").check()
    ServeSettings(host="localhost").check()


def test_rate_limit_answers_429_with_retry_after(
    start_server: Callable[..., RunningServer],
) -> None:
    url = start_server(rate_per_s=0.5, rate_burst=3).url
    codes = [httpx.get(f"{url}/v1/models").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    resp = httpx.get(f"{url}/v1/models")
    assert resp.json()["error"]["type"] == "rate_limit_error"
    assert int(resp.headers["retry-after"]) >= 1
    assert httpx.get(f"{url}/health").status_code == 200  # never limited


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])
    assert bucket.take("a") == 0 and bucket.take("a") == 0
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0  # per client
    now[0] += 0.5
    assert bucket.take("a") == 0


def test_body_over_the_limit_gets_413_with_or_without_length(
    start_server: Callable[..., RunningServer],
) -> None:
    url = start_server(max_body_bytes=2000).url
    big = {"yaml": "x" * 5000}
    resp = httpx.post(f"{url}/v1/validate", json=big)
    assert resp.status_code == 413
    assert resp.json()["error"]["type"] == "request_too_large"

    def chunks() -> object:
        for _ in range(10):
            yield b"x" * 500

    # A chunked body declares no length: counted as it arrives.
    resp = httpx.post(
        f"{url}/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    small = httpx.post(f"{url}/v1/chat/completions", json={"model": "x", "messages": USER})
    assert small.status_code == 404  # under the limit: it reached the route


def test_bounded_generation_answers_503_when_full(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    model = chat_script(tmp_path / "slow.json", "slow answer") + "?delay_s=1.5"
    url = start_server(models=[model], max_generations=1, max_queued=0).url
    body = {"model": model, "messages": USER}
    first: list[int] = []
    worker = threading.Thread(
        target=lambda: first.append(
            httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10).status_code
        )
    )
    worker.start()
    deadline = time.monotonic() + 5
    while "active_generations 1.0" not in httpx.get(f"{url}/metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    busy = httpx.post(f"{url}/v1/chat/completions", json=body)
    worker.join()
    assert first == [200]
    assert busy.status_code == 503
    assert "busy" in busy.json()["error"]["message"] and busy.headers["retry-after"]
    assert httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10).status_code == 200


def test_health_is_503_while_models_load_then_200(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    model = chat_script(tmp_path / "late.json") + "?load_s=1.5"
    running = start_server(models=[model], wait=False)
    first = httpx.get(f"{running.url}/health")
    assert first.status_code == 503 and first.json()["status"] == "loading"
    loading = httpx.post(
        f"{running.url}/v1/chat/completions", json={"model": model, "messages": USER}
    )
    assert loading.status_code == 503 and "loading" in loading.json()["error"]["message"]
    wait_healthy(running.url)
    body = httpx.get(f"{running.url}/health").json()
    assert body["status"] == "ok" and body["models"] == [model]


def test_a_model_that_fails_to_load_keeps_health_503(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    running = start_server(models=[f"scripted:{tmp_path / 'missing.json'}"], wait=False)
    deadline = time.monotonic() + 10
    while (body := httpx.get(f"{running.url}/health").json())["status"] == "loading":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert body["status"] == "error" and "does not exist" in json.dumps(body["errors"])


def test_metrics_count_requests_by_route_and_status(serve_url: str) -> None:
    httpx.get(f"{serve_url}/v1/models")
    httpx.get(f"{serve_url}/api/tasks/no-such-task")
    text = httpx.get(f"{serve_url}/metrics").text
    assert 'kubebench_serve_requests_total{route="/v1/models",status="200"}' in text
    assert 'route="/api/tasks/{task_id}",status="404"' in text
    for name in ("time_to_first_token_seconds", "generated_tokens", "active_streams"):
        assert f"kubebench_serve_{name}" in text
