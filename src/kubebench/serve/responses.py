"""A streamed response that runs its cleanup however the stream ends (finished, failed,
or the client gone before the first byte)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import StreamingResponse


def once(action: Callable[[], None]) -> Callable[[], None]:
    """`action`, callable many times, run the first time only."""
    done = False

    def call() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return call


class ClosingStream(StreamingResponse):
    """StreamingResponse whose `on_close` (sync or async) always runs after sending."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        on_close: Callable[[], Any | Awaitable[Any]],
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(content, status_code=status_code, headers=headers, media_type=media_type)
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            result = self._on_close()
            if isinstance(result, Awaitable):
                await result
