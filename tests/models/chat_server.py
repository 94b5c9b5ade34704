"""A small real HTTP/1.1 server on loopback that speaks OpenAI chat completions.

Tests queue the replies it gives (`Reply`), in order; with none queued it answers
`echo: <last user message>`. Every request is recorded with its arrival time, so tests
can check retries and waits from the server's side.

`ChatServer(interrupt_requests=True)` behaves as llama-cpp-python's server does by default
(`interrupt_requests=True` in its settings): a request that arrives while a stream is
being sent ends that stream at once with a bare `data: [DONE]`, no finish_reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """What the server does with one request."""

    status: int = 200
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # sent as is (errors default to an OpenAI-style JSON error)
    delay_s: float = 0.0  # wait this long before answering
    usage: tuple[int, int] = (11, 7)
    finish_reason: str = "stop"
    chunk_size: int = 4  # characters per streamed delta
    chunk_delay_s: float = 0.0  # wait before each streamed delta


@dataclass
class RecordedRequest:
    arrived: float  # time.monotonic() at the server
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ChatServer:
    """Start with `async with ChatServer() as server:`; `server.base_url` ends in /v1."""

    def __init__(self, *, interrupt_requests: bool = False) -> None:
        self.interrupt_requests = interrupt_requests
        self.interrupted = 0  # streams ended early by a newer request
        self._streams: set[asyncio.Event] = set()  # set: end that stream now
        self.replies: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        self.active = 0  # requests being answered now
        self.peak_active = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> ChatServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        for handler in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await handler
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request_line = await reader.readline()
        if not request_line:
            return False
        _method, path, _version = request_line.decode().split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        body = json.loads(raw) if raw else {}
        self.requests.append(RecordedRequest(time.monotonic(), path, headers, body))
        if self.interrupt_requests:
            for stream in self._streams:
                stream.set()
        reply = self.replies.popleft() if self.replies else self._echo(body)
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        try:
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if path != "/v1/chat/completions":
                message = json.dumps({"error": {"message": f"no route {path}"}})
                reply = Reply(status=404, body=message)
            if reply.status != 200 or reply.body is not None:
                await self._send_raw(writer, reply)
            elif body.get("stream"):
                await self._send_stream(writer, reply, body)
            else:
                await self._send_json(writer, reply, body)
        finally:
            self.active -= 1
        return True

    @staticmethod
    def _echo(body: dict[str, Any]) -> Reply:
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        return Reply(text=f"echo: {users[-1] if users else ''}")

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def _send_raw(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        payload = (
            reply.body
            if reply.body is not None
            else json.dumps({"error": {"message": f"scripted failure {reply.status}"}})
        ).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(payload))}
        writer.write(self._head(reply.status, {**headers, **reply.headers}) + payload)
        await writer.drain()

    async def _send_json(
        self, writer: asyncio.StreamWriter, reply: Reply, body: dict[str, Any]
    ) -> None:
        prompt, completion = reply.usage
        payload = json.dumps(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(payload))}
        writer.write(self._head(200, {**headers, **reply.headers}) + payload)
        await writer.drain()

    async def _send_stream(
        self, writer: asyncio.StreamWriter, reply: Reply, body: dict[str, Any]
    ) -> None:
        headers = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}
        writer.write(self._head(200, headers))

        async def event(data: str) -> None:
            frame = f"data: {data}\n\n".encode()
            writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            await writer.drain()

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            return json.dumps(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    **extra,
                }
            )

        await event(chunk({"role": "assistant", "content": ""}))
        comment = b": keep-alive\n\n"  # an SSE comment the client must skip
        writer.write(f"{len(comment):x}\r\n".encode() + comment + b"\r\n")
        interrupt = asyncio.Event()
        self._streams.add(interrupt)
        try:
            for start in range(0, len(reply.text), reply.chunk_size):
                if reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
                if interrupt.is_set():  # llama-cpp-python: [DONE], nothing else
                    self.interrupted += 1
                    await event("[DONE]")
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                    return
                await event(chunk({"content": reply.text[start : start + reply.chunk_size]}))
        finally:
            self._streams.discard(interrupt)
        await event(chunk({}, reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt, completion = reply.usage
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
            await event(json.dumps({"id": "chatcmpl-test", "choices": [], "usage": usage}))
        await event("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
