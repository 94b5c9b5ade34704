"""What stands between a client and the routes, as plain ASGI middleware (so streamed
responses pass through untouched): request metrics, a per-client token-bucket rate
limit, the bearer API key, and the request body size limit."""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from kubebench.serve.api_errors import error_bytes
from kubebench.serve.metrics import ServeMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Open without a key: the probe, and the UI's page and files (which then send the key).
_OPEN_PATHS = frozenset({"/health", "/", "/favicon.ico"})
_OPEN_PREFIX = "/static/"
# Not counted against a client's rate: probes, scrapes and the UI's files.
_UNLIMITED_PATHS = frozenset({"/health", "/metrics", "/", "/favicon.ico"})
_BUCKETS_KEPT = 10_000  # clients remembered before idle (full) buckets are forgotten


async def send_error(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """Answer with the API's JSON error from raw ASGI."""
    body = error_bytes(status, message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def is_open(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX)


@dataclass
class TokenBucket:
    """Per-client token buckets: `rate` tokens a second, at most `burst` saved up."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it could."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > _BUCKETS_KEPT:
            self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key, (_, last) in list(self._buckets.items()):
            if now - last > full_after:
                del self._buckets[key]


class RequestMetrics:
    """Counts every HTTP answer by its route's path template and status."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(route=path, status=str(status)).inc()


class Guard:
    """Rate limit, API key and body size, in that order, for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        limiter: TokenBucket,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path not in _UNLIMITED_PATHS and not path.startswith(_OPEN_PREFIX):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.take(client)
            if wait:
                retry = str(max(1, math.ceil(wait)))
                message = f"rate limit: at most {self.limiter.rate:g} requests/s per client"
                await send_error(send, 429, message, {"Retry-After": retry})
                return
        if self.api_key and not is_open(path) and not self._authorized(scope):
            await send_error(
                send,
                401,
                "missing or wrong API key: send `Authorization: Bearer <key>`",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await send_error(send, 413, self._too_large())
            return
        await self._call_limited(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        assert self.api_key is not None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    return hmac.compare_digest(token.strip().encode(), self.api_key.encode())
        return False

    def _too_large(self) -> str:
        return f"request body over the {self.max_body_bytes} byte limit"

    async def _call_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Counts a body sent without (or beyond) its Content-Length as it arrives: past
        the limit the client gets 413 and the route sees a disconnect (whatever it then
        answers is dropped)."""
        received = 0
        started = refused = False

        async def receiving() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    refused = True
                    if not started:
                        await send_error(send, 413, self._too_large())
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, receiving, sending)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
