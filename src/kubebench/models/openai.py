"""`openai:<model>`: any OpenAI-compatible chat-completions endpoint.

vLLM, SGLang, Ollama, llama.cpp's server, TGI, LM Studio and hosted APIs all speak
`POST {base_url}/chat/completions`. This provider talks to it with httpx directly.

How failures are classified (this provider is the one layer that retries a request, see
`kubebench.retry`; the runner records infrastructure errors apart from model failures
without asking again; a user error stops the run):
- 429, 408, 409, 425, 5xx, timeouts, connection errors, malformed or truncated responses:
  retried with exponential backoff and jitter (`Retry-After` honoured on 429 and 503),
  at most `retries + 1` requests per call, then `InfrastructureError`.
- 401, 403 (bad or missing key) and 404 (wrong model or base URL): `UserError` at once;
  every other request would fail the same way.
- Any other 4xx (400, 413, 422: typically a prompt longer than the model's context or a
  sampling option the server does not support): `InfrastructureError` at once, without
  retry: it concerns this request only, and is recorded, not graded.
- A stream that ends without a finish_reason (cut short, e.g. by a server that interrupts
  a request when the next one arrives): retried, then `InfrastructureError`; never taken
  as a (partial or empty) answer.
Whatever text the model returns, empty included, is a `Completion`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from kubebench import defaults
from kubebench.errors import InfrastructureError, UserError
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.models.options import ProviderHelp, parse_options, strip_userinfo
from kubebench.retry import RetryLater, RetryPolicy, call_retrying_later, parse_retry_after
from kubebench.settings import settings
from kubebench.tasks.schema import Task

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})
_MAX_ERROR_CHARS = 300


class OpenAIOptions(BaseModel):
    """Options of `openai:<model>` (strings from a model id are coerced)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    api_key: str | None = None
    stream: bool = False
    concurrency: int = Field(defaults.OPENAI_CONCURRENCY, ge=1)
    timeout_s: float = Field(defaults.OPENAI_TIMEOUT_S, gt=0)
    connect_timeout_s: float = Field(defaults.OPENAI_CONNECT_TIMEOUT_S, gt=0)
    retries: int = Field(defaults.OPENAI_RETRIES, ge=0)
    backoff_s: float = Field(defaults.OPENAI_BACKOFF_S, ge=0)
    backoff_max_s: float = Field(defaults.OPENAI_BACKOFF_MAX_S, ge=0)
    retry_after_max_s: float = Field(defaults.OPENAI_RETRY_AFTER_MAX_S, ge=0)
    stream_usage: bool = True  # ask for usage in the last streamed chunk


@dataclass
class _Answer:
    text: str
    finish_reason: str | None
    usage: dict[str, Any] | None
    raw: dict[str, Any] = field(default_factory=dict)


def _error_message(body: bytes) -> str:
    """The server's own explanation from an error body, on one short line."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message") or error
        if error is not None:
            text = error if isinstance(error, str) else json.dumps(error)
    line = " ".join(text.split())
    return line[:_MAX_ERROR_CHARS] + ("…" if len(line) > _MAX_ERROR_CHARS else "")


async def iter_sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` payloads of a server-sent event stream, one per event."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class OpenAIProvider:
    """Any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, hosted)."""

    PROVIDER_HELP: ClassVar[ProviderHelp] = ProviderHelp(
        summary="Any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, Ollama, "
        "llama.cpp server, TGI, LM Studio, hosted APIs).",
        id_syntax="openai:<served model name>[?base_url=URL&stream=true&...]",
        options=(
            ("base_url", f"endpoint root ending in /v1 (default {defaults.OPENAI_BASE_URL})"),
            ("stream", "true: stream the answer over server-sent events (default false)"),
            ("concurrency", f"requests in flight (default {defaults.OPENAI_CONCURRENCY})"),
            ("timeout_s", f"per request (default {defaults.OPENAI_TIMEOUT_S:g})"),
            ("retries", f"retries after 429/5xx/timeouts (default {defaults.OPENAI_RETRIES})"),
            ("backoff_s / backoff_max_s", "first and largest retry delay"),
            ("retry_after_max_s", "longest Retry-After accepted before giving up"),
        ),
        environment=(
            (" / ".join(defaults.OPENAI_BASE_URL_ENVS), "base URL when base_url is not given"),
            (" / ".join(defaults.OPENAI_API_KEY_ENVS), "API key (sent as a Bearer token)"),
        ),
        examples=(
            "openai:gpt-4o-mini",
            "openai:Qwen/Qwen2.5-7B-Instruct?base_url=http://127.0.0.1:8000/v1",
            "openai:llama3.2?base_url=http://127.0.0.1:11434/v1&stream=true",
        ),
    )

    def __init__(self, name: str, **options: object) -> None:
        if not name:
            raise UserError(
                "the openai provider needs a model name", hint="e.g. --model openai:gpt-4o-mini"
            )
        self.options = parse_options(OpenAIOptions, options, "openai")
        self.name = name
        self.model_id = f"openai:{name}"
        base_url = self.options.base_url or settings().openai_base_url or defaults.OPENAI_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise UserError(f"openai: base URL {strip_userinfo(base_url)!r} is not an http(s) URL")
        # Credentials in the URL (from the environment: ids refuse them) are used for the
        # requests but never recorded: `base_url` is what describe() and errors show.
        self._url = base_url.rstrip("/")
        self.base_url = strip_userinfo(self._url)
        env_key = settings().openai_api_key
        self._api_key = self.options.api_key or (env_key.get_secret_value() if env_key else None)
        self._semaphore = asyncio.Semaphore(self.options.concurrency)
        self._client: httpx.AsyncClient | None = None
        self.retry = RetryPolicy(
            retries=self.options.retries,
            backoff_s=self.options.backoff_s,
            backoff_max_s=self.options.backoff_max_s,
            jitter=True,
            retry_after_max_s=self.options.retry_after_max_s,
        )

    def describe(self) -> dict[str, object]:
        return {
            "provider": "openai",
            "model": self.name,
            "base_url": self.base_url,
            "stream": self.options.stream,
        }

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Accept": "application/json"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(
                    self.options.timeout_s, connect=self.options.connect_timeout_s
                ),
                limits=httpx.Limits(max_connections=self.options.concurrency),
            )
        return self._client

    def request_body(self, messages: list[ChatMessage], config: GenerationConfig) -> dict:
        """The JSON body sent for `messages` under `config`."""
        body: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_tokens,
            "stream": self.options.stream,
        }
        if config.seed is not None:
            body["seed"] = config.seed
        if config.stop:
            body["stop"] = list(config.stop)
        if self.options.stream and self.options.stream_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    async def complete(
        self,
        messages: list[ChatMessage],
        config: GenerationConfig,
        *,
        task: Task | None = None,
    ) -> Completion:
        """Ask the endpoint, retrying transient failures (at most `retries + 1` requests);
        see the module doc."""
        body = self.request_body(messages, config)
        called = time.monotonic()
        started = called

        async def ask() -> _Answer:
            nonlocal started
            started = time.monotonic()
            return await self._ask_once(body)

        async with self._semaphore:
            where = f"{self.model_id} at {self.base_url}"
            answer, tries = await call_retrying_later(ask, self.retry, where)
        finished = time.monotonic()
        usage = answer.usage or {}
        return Completion(
            text=answer.text,
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            latency_s=finished - started,
            finish_reason=answer.finish_reason,
            raw={**answer.raw, "tries": tries, "wall_s": finished - called},
        )

    async def _ask_once(self, body: dict[str, Any]) -> _Answer:
        url = f"{self._url}/chat/completions"
        try:
            async with asyncio.timeout(self.options.timeout_s):
                if body["stream"]:
                    return await self._ask_streaming(url, body)
                response = await self._http().post(url, content=encode_body(body), headers=_JSON)
                self._check_status(response.status_code, response.headers, response.content)
                return _parse_answer(response.content)
        except (TimeoutError, httpx.TimeoutException):
            raise RetryLater(f"no answer within {self.options.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            raise RetryLater(f"connection failed ({type(exc).__name__}: {exc})") from None

    async def _ask_streaming(self, url: str, body: dict[str, Any]) -> _Answer:
        request = self._http().stream("POST", url, content=encode_body(body), headers=_JSON)
        async with request as response:
            if response.status_code != 200:
                content = await response.aread()
                self._check_status(response.status_code, response.headers, content)
            return await _read_stream(response)

    def _check_status(self, status: int, headers: httpx.Headers, content: bytes) -> None:
        if status == 200:
            return
        detail = _error_message(content)
        reason = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status in RETRYABLE_STATUS or status >= 500:
            retry_after = (
                parse_retry_after(headers.get("retry-after"))
                if status in RETRY_AFTER_STATUS
                else None
            )
            raise RetryLater(reason, retry_after)
        where = f"{self.model_id} at {self.base_url}"
        if status in (401, 403):
            names = " or ".join(defaults.OPENAI_API_KEY_ENVS)
            raise UserError(f"{where} refused the API key ({reason})", hint=f"set {names}")
        if status == 404:
            raise UserError(
                f"{where}: model or endpoint not found ({reason})",
                hint="check the model name and that the base URL ends in /v1",
            )
        raise InfrastructureError(
            f"{where} rejected the request ({reason})",
            hint="the prompt may exceed the model's context, or a sampling option is "
            "not supported by this server",
        )


_JSON = {"Content-Type": "application/json"}


def encode_body(body: dict[str, Any]) -> bytes:
    """The request body as JSON bytes. Text that is not valid Unicode (a lone surrogate,
    e.g. in an answer shown to a judge) cannot be UTF-8, so such a body is sent with
    `\\uXXXX` escapes instead of failing the request."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(body, separators=(",", ":")).encode()


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_answer(content: bytes) -> _Answer:
    try:
        data = json.loads(content)
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise RetryLater(f"malformed response: {_error_message(content) or 'empty body'}") from None
    raw = {k: data[k] for k in ("id", "model", "system_fingerprint") if k in data}
    if reasoning := message.get("reasoning_content"):
        raw["reasoning_content"] = reasoning
    return _Answer(
        text=message.get("content") or "",
        finish_reason=choice.get("finish_reason"),
        usage=data.get("usage") if isinstance(data.get("usage"), dict) else None,
        raw=raw,
    )


async def _read_stream(response: httpx.Response) -> _Answer:
    """Assemble a streamed answer from its `data:` chunks up to `[DONE]`."""
    started = time.monotonic()
    parts: list[str] = []
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    raw: dict[str, Any] = {"chunks": 0}
    done = False
    async for payload in iter_sse_data(response.aiter_lines()):
        if payload.strip() == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise RetryLater(f"malformed stream chunk: {payload[:100]!r}") from None
        if not isinstance(chunk, dict):
            raise RetryLater(f"malformed stream chunk: {payload[:100]!r}")
        if "error" in chunk:
            message = _error_message(json.dumps(chunk).encode())
            raise RetryLater(f"error in stream: {message}")
        raw["chunks"] += 1
        for key in ("id", "model", "system_fingerprint"):
            if key in chunk:
                raw.setdefault(key, chunk[key])
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if content := delta.get("content"):
                raw.setdefault("time_to_first_token_s", time.monotonic() - started)
                parts.append(content)
            if choice.get("finish_reason"):
                finish_reason = choice["finish_reason"]
    if finish_reason is None:
        # llama-cpp-python's server, for one, ends a stream it interrupts for a newer
        # request with a bare [DONE]: what arrived is not the model's whole answer.
        ending = "with [DONE]" if done else "without [DONE]"
        raise RetryLater(
            f"the stream ended {ending} but without a finish_reason, after "
            f"{raw['chunks']} chunks: cut short by the server"
        )
    return _Answer("".join(parts), finish_reason, usage, raw)
