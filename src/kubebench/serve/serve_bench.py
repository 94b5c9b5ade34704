"""`kubebench bench serve`: streaming chats against a model behind a real uvicorn on
loopback, at several concurrencies, and /v1/validate's throughput.

Measured per concurrency: time to first token (p50/p95), aggregate completion tokens/s
against a single stream's, errors; then a new request's time to first token while 8
long streams run, against its time on the idle server (the median of a few probes each,
sent at seeded random moments, each asking for one token)."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from kubebench import defaults
from kubebench.cluster.kubeconfig import Connection
from kubebench.errors import InfrastructureError
from kubebench.models.openai import iter_sse_data
from kubebench.report.stats import quantile
from kubebench.serve.settings import ServeSettings

PROMPT = "Write a Kubernetes ConfigMap named app-config with two keys."
VALIDATE_YAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\ndata:\n  a: b\n"


@dataclass
class StreamResult:
    ttft_s: float | None
    total_s: float
    tokens: int
    error: str | None = None


@dataclass
class LevelResult:
    concurrency: int
    ttft_p50_s: float | None
    ttft_p95_s: float | None
    tokens: int
    wall_s: float
    tokens_per_s: float
    errors: int
    speedup_vs_single: float | None = None


@dataclass
class ServeBench:
    model: str
    max_tokens: int
    levels: list[LevelResult] = field(default_factory=list)
    idle_ttft_s: float | None = None
    busy_ttft_s: float | None = None
    busy_streams: int = defaults.BENCH_SERVE_BUSY_STREAMS
    ttft_probes: int = defaults.BENCH_SERVE_TTFT_PROBES
    # Busy streams still generating when the last busy probe got its first token.
    busy_streams_at_end: int | None = None
    validate_requests: int = 0
    validate_per_s: float | None = None
    validate_p50_s: float | None = None
    validate_errors: int = 0

    @property
    def busy_ratio(self) -> float | None:
        if self.idle_ttft_s and self.busy_ttft_s is not None:
            return self.busy_ttft_s / self.idle_ttft_s
        return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"busy_over_idle_ttft": self.busy_ratio}


async def stream_chat(
    client: httpx.AsyncClient,
    model: str,
    max_tokens: int,
    *,
    started: asyncio.Event | None = None,
    first_only: bool = False,
) -> StreamResult:
    """One streamed chat; its time to first content and its completion tokens
    (`first_only`: closed at the first content, which frees its slot on the server)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
        "temperature": 0.0,
    }
    t0 = time.perf_counter()
    ttft, tokens = None, 0
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
            if resp.status_code != 200:
                await resp.aread()
                return StreamResult(None, time.perf_counter() - t0, 0, f"HTTP {resp.status_code}")
            async for payload in iter_sse_data(resp.aiter_lines()):
                if payload == "[DONE]":
                    break
                chunk = json.loads(payload)
                if "error" in chunk:
                    return StreamResult(ttft, time.perf_counter() - t0, tokens, str(chunk["error"]))
                if chunk.get("usage"):
                    tokens = int(chunk["usage"]["completion_tokens"])
                for choice in chunk.get("choices") or []:
                    if ttft is None and choice.get("delta", {}).get("content"):
                        ttft = time.perf_counter() - t0
                        if started is not None:
                            started.set()
                        if first_only:
                            return StreamResult(ttft, time.perf_counter() - t0, 1)
    except httpx.HTTPError as exc:
        return StreamResult(ttft, time.perf_counter() - t0, tokens, type(exc).__name__)
    return StreamResult(ttft, time.perf_counter() - t0, tokens)


async def _level(client: httpx.AsyncClient, model: str, n: int, max_tokens: int) -> LevelResult:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(stream_chat(client, model, max_tokens) for _ in range(n)))
    wall = time.perf_counter() - t0
    ttfts = [r.ttft_s for r in results if r.ttft_s is not None]
    tokens = sum(r.tokens for r in results)
    return LevelResult(
        concurrency=n,
        ttft_p50_s=quantile(ttfts, 0.5),
        ttft_p95_s=quantile(ttfts, 0.95),
        tokens=tokens,
        wall_s=wall,
        tokens_per_s=tokens / wall if wall else 0.0,
        errors=sum(r.error is not None for r in results),
    )


async def _probe_ttft(client: httpx.AsyncClient, model: str, probes: int) -> float | None:
    """The median time to first token of `probes` new requests, one after another, each
    after a seeded random pause (`BENCH_SERVE_PROBE_JITTER_S`)."""
    rng = random.Random(0)
    ttfts = []
    for _ in range(probes):
        await asyncio.sleep(rng.uniform(0, defaults.BENCH_SERVE_PROBE_JITTER_S))
        result = await stream_chat(client, model, 1, first_only=True)
        if result.ttft_s is not None:
            ttfts.append(result.ttft_s)
    return statistics.median(ttfts) if ttfts else None


async def _busy_ttft(
    client: httpx.AsyncClient, model: str, streams: int, max_tokens: int, probes: int
) -> tuple[float | None, int]:
    """New requests' TTFT once `streams` long streams are all generating, and how many
    of those streams were still generating after the last probe."""
    events = [asyncio.Event() for _ in range(streams)]
    background = [
        asyncio.create_task(stream_chat(client, model, max_tokens * 16, started=e)) for e in events
    ]
    for task, event in zip(background, events, strict=True):
        task.add_done_callback(lambda _, event=event: event.set())  # ended without text
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=300)
        ttft = await _probe_ttft(client, model, probes)
        return ttft, sum(not task.done() for task in background)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)


async def _validate(
    client: httpx.AsyncClient, requests: int, concurrency: int = 8
) -> tuple[float, float | None, int]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        async with gate:
            t0 = time.perf_counter()
            resp = await client.post("/v1/validate", json={"yaml": VALIDATE_YAML})
            latencies.append(time.perf_counter() - t0)
            if resp.status_code != 200 or not resp.json().get("valid"):
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    wall = time.perf_counter() - t0
    return requests / wall, quantile(latencies, 0.5), errors


@contextmanager
def serving(settings: ServeSettings) -> Iterator[str]:
    """The app on uvicorn in a thread, on a free loopback port; its base URL once
    /health says every model is ready."""
    import uvicorn

    from kubebench.serve.app import create_app

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="kubebench-bench-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + defaults.READY_TIMEOUT_S * 4
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise InfrastructureError("the bench server did not start")
            time.sleep(0.02)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        while (health := httpx.get(f"{url}/health")).status_code != 200:
            if health.json().get("status") == "error" or time.monotonic() > deadline:
                raise InfrastructureError(f"the bench server is not healthy: {health.text}")
            time.sleep(0.2)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def run_serve_bench(
    model: str,
    connection: Connection | None,
    *,
    concurrency: tuple[int, ...] = defaults.BENCH_SERVE_CONCURRENCY,
    max_tokens: int = defaults.BENCH_SERVE_MAX_TOKENS,
    validate_requests: int = defaults.BENCH_SERVE_VALIDATE_REQUESTS,
    busy_streams: int = defaults.BENCH_SERVE_BUSY_STREAMS,
) -> ServeBench:
    """Run every measurement against one server (no rate limit, room for every stream)."""
    settings = ServeSettings(
        models=[model],
        connection=connection,
        rate_per_s=0,
        max_generations=max(max(concurrency), busy_streams + 1),
    )
    result = ServeBench(model=model, max_tokens=max_tokens, busy_streams=busy_streams)

    async def measure(url: str) -> None:
        limits = httpx.Limits(max_connections=max(concurrency) + busy_streams + 8)
        async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
            await stream_chat(client, model, 4)  # warm-up: first-call costs stay out
            for n in concurrency:
                result.levels.append(await _level(client, model, n, max_tokens))
            single = next((lv.tokens_per_s for lv in result.levels if lv.concurrency == 1), None)
            for level in result.levels:
                if single:
                    level.speedup_vs_single = level.tokens_per_s / single
            result.idle_ttft_s = await _probe_ttft(client, model, result.ttft_probes)
            if busy_streams:
                result.busy_ttft_s, result.busy_streams_at_end = await _busy_ttft(
                    client, model, busy_streams, max_tokens, result.ttft_probes
                )
            if connection is not None and validate_requests:
                result.validate_requests = validate_requests
                rate, p50, errors = await _validate(client, validate_requests)
                result.validate_per_s, result.validate_p50_s, result.validate_errors = (
                    rate,
                    p50,
                    errors,
                )

    with serving(settings) as url:
        asyncio.run(measure(url))
    return result
