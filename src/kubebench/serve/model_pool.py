"""The models one server answers with: created in the background at startup (a local
model takes seconds to load), looked up by id, and a bounded number of generation
slots shared by every request."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from kubebench.errors import KubeBenchError
from kubebench.models.base import ModelProvider
from kubebench.models.registry import create_provider, parse_model_id
from kubebench.serve.api_errors import ApiError

log = logging.getLogger("kubebench.serve")

UPSTREAM_PROVIDERS = frozenset({"openai"})  # proxied, not generated here


@dataclass
class ServedModel:
    """One model id as served: its provider once created, or why it could not be."""

    model_id: str
    provider: ModelProvider | None = None
    error: str | None = None

    @property
    def upstream(self) -> bool:
        """True for an `openai:` model: requests are forwarded to its endpoint."""
        return parse_model_id(self.model_id).provider in UPSTREAM_PROVIDERS


class ModelPool:
    """Models by id, their loading state, and the generation slots."""

    def __init__(
        self, model_ids: list[str], *, max_generations: int, max_queued: int, queue_wait_s: float
    ) -> None:
        for model_id in model_ids:
            parse_model_id(model_id)  # a malformed id is a UserError before the server starts
        self.models = {model_id: ServedModel(model_id) for model_id in model_ids}
        self.max_generations = max_generations
        self.max_queued = max_queued
        self.queue_wait_s = queue_wait_s
        self._slots = asyncio.Semaphore(max_generations)
        self._waiting = 0
        self._loaded = asyncio.Event()

    @property
    def loading(self) -> bool:
        return not self._loaded.is_set()

    @property
    def errors(self) -> dict[str, str]:
        return {m.model_id: m.error for m in self.models.values() if m.error}

    async def load(self) -> None:
        """Create every provider, one at a time, each in a worker thread (loading
        weights blocks); failures are kept per model, never raised."""
        try:
            for served in self.models.values():
                try:
                    served.provider = await asyncio.to_thread(create_provider, served.model_id)
                    log.info("model %s ready", served.model_id)
                except KubeBenchError as exc:
                    served.error = exc.one_line()
                except Exception as exc:  # a broken model must not take the server down
                    served.error = f"{type(exc).__name__}: {exc}"
                if served.error:
                    log.error("model %s failed to load: %s", served.model_id, served.error)
        finally:
            self._loaded.set()

    async def wait_loaded(self) -> None:
        await self._loaded.wait()

    def get(self, model_id: str) -> ServedModel:
        """The model a request names (its id as served, or its provider's own id)."""
        served = self.models.get(model_id) or next(
            (
                m
                for m in self.models.values()
                if m.provider is not None and m.provider.model_id == model_id
            ),
            None,
        )
        if served is None:
            known = ", ".join(self.models) or "none"
            raise ApiError(404, f"model {model_id!r} is not served here (served: {known})")
        if served.error:
            raise ApiError(503, f"model {model_id} failed to load: {served.error}")
        if served.provider is None:
            raise ApiError(503, f"model {model_id} is still loading", headers={"Retry-After": "5"})
        return served

    async def acquire(self) -> None:
        """Wait for a generation slot; 503 when too many already wait or the wait is
        too long. Pair with `release()`."""
        if self._slots.locked() and self._waiting >= self.max_queued:
            raise ApiError(
                503,
                f"server busy: {self.max_generations} generating and {self._waiting} "
                "waiting; retry later",
                headers={"Retry-After": "1"},
            )
        self._waiting += 1
        try:
            async with asyncio.timeout(self.queue_wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise ApiError(
                503,
                f"server busy: no generation slot within {self.queue_wait_s:g}s; retry later",
                headers={"Retry-After": "5"},
            ) from None
        finally:
            self._waiting -= 1

    def release(self) -> None:
        self._slots.release()

    async def aclose(self) -> None:
        for served in self.models.values():
            if served.provider is not None:
                try:
                    await served.provider.aclose()
                except Exception as exc:  # closing one must not stop closing the others
                    log.warning("closing %s: %s", served.model_id, exc)
