"""The one retry layer: bounded tries, backoff, Retry-After, and what is never retried."""

from __future__ import annotations

import pytest

from kubebench.errors import InfrastructureError, UserError
from kubebench.retry import RetryLater, RetryPolicy, call_retrying_later, with_retries

FAST = RetryPolicy(retries=2, backoff_s=0.001, backoff_max_s=0.002)


async def test_an_infrastructure_error_is_retried_after_the_breakers_wait() -> None:
    calls: list[str] = []

    async def flaky() -> str:
        calls.append("call")
        if len(calls) == 1:
            raise InfrastructureError("API server unreachable")
        return "graded"

    async def before_retry() -> None:
        calls.append("breaker")

    assert await with_retries(flaky, FAST, before_retry=before_retry) == ("graded", None, 1)
    assert calls == ["call", "breaker", "call"]


async def test_a_flagged_result_is_retried_then_returned_with_its_error() -> None:
    calls = 0

    async def always_flagged() -> str:
        nonlocal calls
        calls += 1
        return f"verdict {calls}"

    result = await with_retries(always_flagged, FAST, lambda r: f"infra error on {r}")
    assert result == ("verdict 3", "infra error on verdict 3", 2)
    assert calls == FAST.tries


async def test_other_errors_are_never_retried() -> None:
    calls = 0

    async def bad_flag() -> None:
        nonlocal calls
        calls += 1
        raise UserError("bad key")

    with pytest.raises(UserError):
        await with_retries(bad_flag, FAST)
    with pytest.raises(UserError):
        await call_retrying_later(bad_flag, FAST, "endpoint")
    assert calls == 2


async def test_retry_later_is_bounded_and_a_long_retry_after_ends_it_at_once() -> None:
    calls = 0

    async def busy() -> None:
        nonlocal calls
        calls += 1
        raise RetryLater("HTTP 503", retry_after_s=0.0)

    with pytest.raises(InfrastructureError, match=r"endpoint: HTTP 503 \(gave up after 3 tries"):
        await call_retrying_later(busy, FAST, "endpoint")
    assert calls == 3

    async def quota() -> None:
        nonlocal calls
        calls += 1
        raise RetryLater("HTTP 429", retry_after_s=3600)

    calls = 0
    capped = RetryPolicy(retries=5, retry_after_max_s=60)
    with pytest.raises(InfrastructureError, match="asks to wait 3600s"):
        await call_retrying_later(quota, capped, "endpoint")
    assert calls == 1
