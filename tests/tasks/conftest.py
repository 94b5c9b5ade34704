"""Fixtures for the self-validation of task splits on the real control plane."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from kubebench.cluster.client import KubeClient
from kubebench.grading.pipeline import grade_answer
from kubebench.grading.verdict import Verdict
from kubebench.retry import RetryPolicy, with_retries
from kubebench.tasks.schema import Task

# Gradings in flight at once: enough to overlap the API server's latency on 2 cores.
GRADING_CONCURRENCY = 16

T = TypeVar("T")


async def gather_limited(
    items: Iterable[T], run: Callable[[T], Awaitable[object]], limit: int = GRADING_CONCURRENCY
) -> list[object]:
    """`run` over items, at most `limit` at a time, results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> object:
        async with semaphore:
            return await run(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


# Infrastructure errors are retried through the runner's own layer: e.g. the aggregation
# controller can re-create an aggregated ClusterRole right after a cleanup deleted it.
INFRA_RETRY = RetryPolicy(retries=3, backoff_s=1.0)
infra_retries: list[str] = []  # one line per grading that needed a retry


async def grade_many(kube: KubeClient, answers: list[tuple[Task, str]]) -> list[Verdict]:
    """Grade (task, answer) pairs concurrently through the one grading code path."""

    async def run(pair: tuple[Task, str]) -> Verdict | None:
        verdict, error, used = await with_retries(
            lambda: grade_answer(pair[0], pair[1], kube),
            INFRA_RETRY,
            lambda v: v.infrastructure_error,
        )
        if used:
            infra_retries.append(f"{pair[0].id}: {used} retries, last error {error}")
        return verdict

    return await gather_limited(answers, run)  # type: ignore[return-value]


def failure_summary(task: Task, verdict: Verdict) -> str:
    """One line per failed grading: where it stopped and the first failed expectation."""
    failed = [e for e in verdict.expectations if not e.passed]
    first = f" | {failed[0].description}: {failed[0].reason}" if failed else ""
    return f"{task.id}: {verdict.stage} {verdict.reason}{first}"
