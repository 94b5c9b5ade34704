"""One chat answer from a local provider, as text deltas: the provider's `stream()`
where it has one, else its `complete()` as one piece; stop sequences cut the text (and
are never sent), metrics counted on the way."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from kubebench.models.base import ChatMessage, Completion, GenerationConfig, ModelProvider
from kubebench.serve.metrics import ServeMetrics


class StopTrimmer:
    """Holds back just enough text to see a stop sequence split across deltas."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.keep = max((len(s) for s in stops), default=1) - 1
        self.held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The part of `text` (with what was held) that is safe to send now."""
        if self.stopped:
            return ""
        buf = self.held + text
        cuts = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        if cuts:
            self.stopped, self.held = True, ""
            return buf[: min(cuts)]
        split = max(0, len(buf) - self.keep)
        self.held = buf[split:]
        return buf[:split]

    def flush(self) -> str:
        out, self.held = ("" if self.stopped else self.held), ""
        return out


async def _pieces(
    provider: ModelProvider, messages: list[ChatMessage], config: GenerationConfig
) -> AsyncIterator[tuple[str, Completion | None]]:
    stream: Any = getattr(provider, "stream", None)
    if stream is None:
        completion = await provider.complete(messages, config)
        yield completion.text, completion
        return
    async with aclosing(stream(messages, config)) as chunks:
        async for chunk in chunks:
            yield chunk.text, chunk.completion


class Generation:
    """Iterate `deltas()` once; then `completion` (usage) and `finish_reason` are set."""

    def __init__(
        self,
        provider: ModelProvider,
        model_id: str,
        messages: list[ChatMessage],
        config: GenerationConfig,
        metrics: ServeMetrics,
        *,
        started: float | None = None,
    ) -> None:
        self.provider, self.model_id = provider, model_id
        self.messages, self.config = messages, config
        self.metrics = metrics
        self.started = time.monotonic() if started is None else started
        self.completion: Completion | None = None
        self.finish_reason = "stop"
        self.time_to_first_token_s: float | None = None

    def _first(self) -> None:
        if self.time_to_first_token_s is None:
            self.time_to_first_token_s = time.monotonic() - self.started
            self.metrics.ttft.labels(model=self.model_id).observe(self.time_to_first_token_s)

    async def deltas(self) -> AsyncIterator[str]:
        trimmer = StopTrimmer(self.config.stop)
        self.metrics.generations.inc()
        try:
            async with aclosing(_pieces(self.provider, self.messages, self.config)) as pieces:
                async for text, completion in pieces:
                    if completion is not None:
                        self.completion = completion
                    if out := trimmer.feed(text):
                        self._first()
                        yield out
                    if trimmer.stopped:
                        break
            if tail := trimmer.flush():
                self._first()
                yield tail
        finally:
            self.metrics.generations.dec()
        if not trimmer.stopped and self.completion is not None:
            self.finish_reason = self.completion.finish_reason or "stop"
        if self.completion is not None and self.completion.completion_tokens:
            self.metrics.tokens.labels(model=self.model_id).inc(self.completion.completion_tokens)
