"""`GET /v1/models` and `POST /v1/chat/completions` (OpenAI's schema; streamed as
server-sent events ending in `data: [DONE]`)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from kubebench.errors import KubeBenchError
from kubebench.models.openai import OpenAIProvider
from kubebench.serve.api_errors import ApiError
from kubebench.serve.chat_schema import (
    ChatRequest,
    chunk_body,
    completion_body,
    completion_id,
    usage_of,
)
from kubebench.serve.generation import Generation
from kubebench.serve.proxy import proxy_chat
from kubebench.serve.responses import ClosingStream, once
from kubebench.serve.state import ServeState

router = APIRouter()
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    state: ServeState = request.app.state.serve
    data = [
        {"id": model_id, "object": "model", "created": state.started_at, "owned_by": "kubebench"}
        for model_id in state.pool.models
    ]
    return {"object": "list", "data": data}


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, body: ChatRequest) -> Response:
    state: ServeState = request.app.state.serve
    started = time.monotonic()
    served = state.pool.get(body.model)
    assert served.provider is not None
    if served.upstream:
        upstream = cast(OpenAIProvider, served.provider)
        await state.pool.acquire()
        raw = body.model_dump(exclude_unset=True, mode="json")
        return await proxy_chat(upstream, raw, on_close=once(state.pool.release))
    messages, config = body.messages_in(), body.generation_config()
    generation = Generation(
        served.provider, served.model_id, messages, config, state.metrics, started=started
    )
    ident, model = completion_id(), served.model_id
    await state.pool.acquire()
    release = once(state.pool.release)
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return ClosingStream(
            _stream(state, generation, ident, model, usage, release),
            release,
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )
    try:
        text = "".join([delta async for delta in generation.deltas()])
    except KubeBenchError as exc:
        raise ApiError(502, f"model {model} failed: {exc.one_line()}") from None
    finally:
        release()
    return JSONResponse(
        completion_body(ident, model, text, generation.finish_reason, generation.completion)
    )


async def _stream(
    state: ServeState,
    generation: Generation,
    ident: str,
    model: str,
    usage: bool,
    release: Callable[[], None],
) -> AsyncIterator[bytes]:
    created = int(time.time())
    state.metrics.active_streams.inc()
    try:
        yield _event(chunk_body(ident, model, created, {"role": "assistant", "content": ""}))
        try:
            async for delta in generation.deltas():
                yield _event(chunk_body(ident, model, created, {"content": delta}))
        except KubeBenchError as exc:
            message = f"model {model} failed: {exc.one_line()}"
            yield _event({"error": {"message": message, "type": "upstream_error"}})
            yield b"data: [DONE]\n\n"
            return
        finally:
            release()
        yield _event(chunk_body(ident, model, created, {}, generation.finish_reason))
        if usage:
            last = chunk_body(ident, model, created, {}) | {"choices": []}
            yield _event(last | {"usage": usage_of(generation.completion)})
        yield b"data: [DONE]\n\n"
    finally:
        state.metrics.active_streams.dec()
