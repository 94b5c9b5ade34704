"""The provider protocol every model implements, and the data it exchanges.

A provider turns chat messages plus a generation config into a `Completion`. Failures
of the endpoint (timeouts, 429 after retries, 5xx) raise
`kubebench.errors.InfrastructureError`; whatever text a model returns is a completion
and gets graded, however bad.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from kubebench import defaults
from kubebench.tasks.schema import Task


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class GenerationConfig(BaseModel):
    """Sampling settings; part of the response-cache key and stored with each attempt."""

    model_config = ConfigDict(frozen=True)

    temperature: float = defaults.GENERATION_TEMPERATURE  # 0 means greedy
    top_p: float = defaults.GENERATION_TOP_P
    max_tokens: int = defaults.GENERATION_MAX_TOKENS
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass
class Completion:
    """One answer from a model, with what it cost."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    raw: dict[str, object] = field(default_factory=dict)


@dataclass
class CompletionChunk:
    """A piece of a streamed answer."""

    text: str  # new text since the previous chunk ("" allowed)
    completion: Completion | None = None  # only on the last chunk: full text, usage, reason


@runtime_checkable
class ModelProvider(Protocol):
    """A model that can answer chat messages.

    `model_id` is the `provider:name` string the user typed; `describe()` returns what
    identifies the model for the run record and the response cache (endpoint, revision,
    adapter, dtype, ...), never secrets.
    """

    model_id: str

    async def complete(
        self,
        messages: list[ChatMessage],
        config: GenerationConfig,
        *,
        task: Task | None = None,
    ) -> Completion:
        """Answer `messages`. `task` is passed for test doubles (the oracle answers with
        its reference); real models must ignore it."""
        ...

    def describe(self) -> dict[str, object]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class StreamingProvider(Protocol):
    """A provider that can also hand out its answer as it is generated (local models)."""

    def stream(
        self, messages: list[ChatMessage], config: GenerationConfig
    ) -> AsyncIterator[CompletionChunk]:
        """Text deltas as tokens are decoded; the last chunk carries the `Completion`."""
        ...
