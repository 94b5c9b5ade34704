"""Fixtures for the self-validation of task splits on the real control plane."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from kubebench.cluster.client import KubeClient
from kubebench.grading.pipeline import grade_answer
from kubebench.grading.verdict import Verdict
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


# Infrastructure errors are retried, as the runner does: e.g. the aggregation controller
# can re-create an aggregated ClusterRole right after a cleanup deleted it.
INFRA_RETRIES = 3
INFRA_BACKOFF_S = 1.0
infra_retries: list[str] = []


async def grade_many(kube: KubeClient, answers: list[tuple[Task, str]]) -> list[Verdict]:
    """Grade (task, answer) pairs concurrently through the one grading code path."""

    async def run(pair: tuple[Task, str]) -> Verdict:
        verdict = await grade_answer(pair[0], pair[1], kube)
        for attempt in range(INFRA_RETRIES):
            if verdict.infrastructure_error is None:
                break
            infra_retries.append(f"{pair[0].id}: {verdict.infrastructure_error}")
            # Back off before retrying, as the runner does, so controllers can settle.
            await asyncio.sleep(INFRA_BACKOFF_S * 2**attempt)
            verdict = await grade_answer(pair[0], pair[1], kube)
        return verdict

    return await gather_limited(answers, run)  # type: ignore[return-value]


def failure_summary(task: Task, verdict: Verdict) -> str:
    """One line per failed grading: where it stopped and the first failed expectation."""
    failed = [e for e in verdict.expectations if not e.passed]
    first = f" | {failed[0].description}: {failed[0].reason}" if failed else ""
    return f"{task.id}: {verdict.stage} {verdict.reason}{first}"
