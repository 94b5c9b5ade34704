"""The one retry layer: every call KubeBench repeats goes through tenacity here.

Who retries what, so that no call is retried in two layers at once:
- a model endpoint's transient failures (429, 408, 409, 425, 5xx, timeouts, connection
  errors, malformed or cut answers): the provider, `defaults.OPENAI_RETRIES` further
  tries, honouring `Retry-After` (seconds or an HTTP date); the runner does not retry
  generation or judging on top;
- a grade that met an infrastructure error (the API server failing): the runner,
  `defaults.INFRA_RETRIES` further tries, each after the circuit breaker's wait for a
  healthy cluster; the API client itself never retries.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_base,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from kubebench import defaults
from kubebench.errors import InfrastructureError

T = TypeVar("T")


class RetryLater(Exception):
    """One failed try that may succeed when repeated (after `retry_after_s`, when the
    server said how long to wait)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is repeated: `retries` further tries (so at
    most `retries + 1` calls), exponential backoff from `backoff_s` up to
    `backoff_max_s`, with equal jitter (half the step fixed, half random) when
    `jitter`; a server's Retry-After longer than `retry_after_max_s` ends it at once."""

    retries: int = defaults.INFRA_RETRIES
    backoff_s: float = defaults.INFRA_BACKOFF_S
    backoff_max_s: float = defaults.INFRA_BACKOFF_MAX_S
    jitter: bool = False
    retry_after_max_s: float = math.inf

    @property
    def tries(self) -> int:
        return self.retries + 1

    def backoff(self) -> wait_base:
        """Before try n+1: min(backoff_max_s, backoff_s * 2**(n-1)), halved and topped
        up with a random share of the other half when `jitter`."""
        if not self.jitter:
            return wait_exponential(multiplier=self.backoff_s, max=self.backoff_max_s)
        half, half_max = self.backoff_s / 2, self.backoff_max_s / 2
        return wait_exponential(multiplier=half, max=half_max) + wait_random_exponential(
            multiplier=half, max=half_max
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome and state.outcome.failed else None
    return exc.retry_after_s if isinstance(exc, RetryLater) else None


class _WaitRetryAfter(wait_base):
    """The server's Retry-After when it gave one, else the backoff."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        asked = _retry_after(retry_state)
        return self.backoff(retry_state) if asked is None else asked


class _StopRetryAfterOver(stop_base):
    """Stop when the server asks for a longer wait than allowed (a quota, not a blip)."""

    def __init__(self, max_s: float) -> None:
        self.max_s = max_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        asked = _retry_after(retry_state)
        return asked is not None and asked > self.max_s


def retrying(
    policy: RetryPolicy,
    retry: retry_base,
    before_sleep: Callable[[RetryCallState], Awaitable[None]] | None = None,
) -> AsyncRetrying:
    """A tenacity controller for one call under `policy`; the last failure is re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(policy.tries) | _StopRetryAfterOver(policy.retry_after_max_s),
        wait=_WaitRetryAfter(policy.backoff()),
        retry=retry,
        before_sleep=before_sleep,
        reraise=True,
    )


async def call_retrying_later(
    call: Callable[[], Awaitable[T]], policy: RetryPolicy, where: str
) -> tuple[T, int]:
    """Run `call`, repeating it while it raises RetryLater; returns (result, tries).
    When the tries run out, or the server asks to wait longer than allowed, raises
    InfrastructureError naming `where` and the last failure."""
    tries = 0

    async def counted() -> T:
        nonlocal tries
        tries += 1
        return await call()

    try:
        result = await retrying(policy, retry_if_exception_type(RetryLater))(counted)
    except RetryLater as failure:
        asked = failure.retry_after_s
        if asked is not None and asked > policy.retry_after_max_s:
            raise InfrastructureError(
                f"{where}: {failure.reason}; the server asks to wait {asked:.0f}s, more "
                f"than retry_after_max_s={policy.retry_after_max_s:g}",
            ) from None
        raise InfrastructureError(
            f"{where}: {failure.reason} (gave up after {tries} tries)",
            hint="check that the server is up and not overloaded; raise retries= or "
            "timeout_s= if it is slow",
        ) from None
    return result, tries


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    failure: Callable[[T], str | None] = lambda _: None,
    before_retry: Callable[[], Awaitable[None]] | None = None,
) -> tuple[T | None, str | None, int]:
    """Run `call`, repeating it on InfrastructureError or while `failure` flags its
    result, after `before_retry` (the circuit breaker's wait for a healthy cluster).
    Returns (last result, its error or None, retries used); never raises those."""
    tries = 0

    async def counted() -> T:
        nonlocal tries
        tries += 1
        return await call()

    async def before_sleep(_: RetryCallState) -> None:
        if before_retry is not None:
            await before_retry()

    flagged = retry_if_exception_type(InfrastructureError) | retry_if_result(
        lambda result: failure(result) is not None
    )
    try:
        result = await retrying(policy, flagged, before_sleep)(counted)
    except InfrastructureError as exc:
        return None, exc.one_line(), tries - 1
    except RetryError as exhausted:  # every try's result was flagged
        result = exhausted.last_attempt.result()
    return result, failure(result), tries - 1
