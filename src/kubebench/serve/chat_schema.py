"""The OpenAI chat-completions request as this server reads it, and its answers' shape."""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kubebench import defaults
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.serve.api_errors import ApiError


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str = ""


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def as_chat_message(self) -> ChatMessage:
        if isinstance(self.content, list):
            if any(part.type != "text" for part in self.content):
                raise ApiError(400, "only text content parts are supported")
            text = "".join(part.text for part in self.content)
        else:
            text = self.content or ""
        role = "system" if self.role == "developer" else self.role
        return ChatMessage(role=role, content=text)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """`POST /v1/chat/completions`; fields OpenAI defines and this server does not use
    (user, logit_bias, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1)

    def messages_in(self) -> list[ChatMessage]:
        return [m.as_chat_message() for m in self.messages]

    def stops(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise ApiError(400, "at most 4 stop sequences")
        return tuple(s for s in stops if s)

    def generation_config(self) -> GenerationConfig:
        if self.n != 1:
            raise ApiError(400, "only n=1 is supported")
        max_tokens = self.max_completion_tokens or self.max_tokens or defaults.SERVE_MAX_TOKENS
        if max_tokens > defaults.SERVE_MAX_TOKENS_LIMIT:
            raise ApiError(
                400,
                f"max_tokens {max_tokens} is over this server's {defaults.SERVE_MAX_TOKENS_LIMIT}",
            )
        return GenerationConfig(
            temperature=(
                defaults.GENERATION_TEMPERATURE if self.temperature is None else self.temperature
            ),
            top_p=defaults.GENERATION_TOP_P if self.top_p is None else self.top_p,
            max_tokens=max_tokens,
            seed=self.seed,
            stop=self.stops(),
        )


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def usage_of(completion: Completion | None) -> dict[str, int]:
    prompt = (completion.prompt_tokens if completion else None) or 0
    generated = (completion.completion_tokens if completion else None) or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
    }


def completion_body(
    ident: str, model: str, text: str, finish_reason: str, completion: Completion | None
) -> dict[str, Any]:
    """A non-streamed answer (`object: chat.completion`)."""
    return {
        "id": ident,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage_of(completion),
    }


def chunk_body(
    ident: str,
    model: str,
    created: int,
    delta: dict[str, str],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One streamed chunk (`object: chat.completion.chunk`)."""
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
