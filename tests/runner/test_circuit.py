"""The run's circuit breaker: one health check shared by all attempts stops a run on a
dead cluster within seconds, and what it cut off is exactly what `--resume` redoes.
(The same on a real control plane whose etcd or kube-apiserver is killed:
tests/runner/test_fault.py.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from kubebench.errors import InfrastructureError
from kubebench.grading.verdict import Stage, Verdict
from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.doubles import OracleProvider
from kubebench.runner.circuit import ClusterCircuitBreaker
from kubebench.runner.launch import plan_attempts
from kubebench.runner.pipeline import AttemptPipeline, Concurrency, RetryPolicy
from kubebench.runner.store import RunStore
from kubebench.tasks.schema import Task
from tests.runner.records_factory import make_meta, make_task


class Cluster:
    """A pretend cluster for the grader double and the probe: alive until `kill()`."""

    def __init__(self) -> None:
        self.alive = True
        self.probes = 0

    async def probe(self) -> str | None:
        self.probes += 1
        await asyncio.sleep(0.01)  # a round trip
        return None if self.alive else "API server https://127.0.0.1:1 is not ready: etcd failed"

    async def grade(self, task: Task, answer: str, kube: object) -> Verdict:
        if not self.alive:
            # What a dead etcd does to a request: nothing for a long time, then an error.
            await asyncio.sleep(30)
            return Verdict(task_id=task.id, stage=Stage.apply, infrastructure_error="timeout")
        await asyncio.sleep(0.01)
        return Verdict(task_id=task.id, stage=Stage.passed, runtime_valid=True,
                       operational_valid=True)  # fmt: skip


def _breaker(cluster: Cluster) -> ClusterCircuitBreaker:
    return ClusterCircuitBreaker(
        cluster.probe,
        where="https://127.0.0.1:1",
        interval_s=0.05,
        failures_to_trip=3,
        down_for_s=0.2,
    )


async def test_breaker_trips_after_consecutive_failures_only() -> None:
    cluster = Cluster()
    breaker = _breaker(cluster)
    cluster.alive = False
    assert not await breaker.probe_once()
    cluster.alive = True
    assert await breaker.probe_once()  # one bad probe is forgiven
    assert not breaker.tripped and breaker.failures == 0
    cluster.alive = False
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match=r"stopped answering.*etcd failed"):
        await breaker.watch()
    assert breaker.failures >= 3
    assert 0.2 <= time.monotonic() - started < 1.0


async def test_many_quick_failures_are_not_yet_an_outage() -> None:
    cluster = Cluster()
    cluster.alive = False
    breaker = _breaker(cluster)
    for _ in range(5):
        await breaker.probe_once()
    assert breaker.failures == 5 and not breaker.tripped  # within 0.2 s: maybe a blip
    await asyncio.sleep(0.2)
    await breaker.probe_once()
    assert breaker.tripped


async def test_concurrent_probes_are_shared() -> None:
    cluster = Cluster()
    breaker = _breaker(cluster)
    results = await asyncio.gather(*(breaker.probe_once() for _ in range(20)))
    assert all(results)
    assert cluster.probes < 20


def _prompt(task: Task) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=task.prompt)]


async def _run(run_dir: Path, tasks: list[Task], cluster: Cluster) -> RunStore:
    store = (
        RunStore.open(run_dir)
        if (run_dir / "run.json").exists()
        else RunStore.create(run_dir, make_meta([t.id for t in tasks]))
    )
    planned = plan_attempts(
        [t.id for t in tasks],
        {t.id: t for t in tasks},
        1,
        finished=store.finished_keys(),
        retry_from=store.pending_retries(),
    )
    pipeline = AttemptPipeline(
        provider=OracleProvider(),
        generation=GenerationConfig(),
        messages_for=_prompt,
        grade=cluster.grade,
        kube=None,  # type: ignore[arg-type]
        store_append=store.append_attempt,
        concurrency=Concurrency(generation=4, grading=4),
        retry=RetryPolicy(retries=3, backoff_s=0.5, backoff_max_s=8),
        breaker=_breaker(cluster),
    )
    await pipeline.run(planned)
    return store


async def test_a_dead_cluster_stops_the_run_in_seconds_and_resume_redoes_the_rest(
    tmp_path: Path,
) -> None:
    tasks = [make_task(f"breaker-{i}") for i in range(40)]
    cluster = Cluster()
    run_dir = tmp_path / "run"

    async def kill_after(n: int) -> None:
        while not (run_dir / "attempts.jsonl").exists() or (
            (run_dir / "attempts.jsonl").read_bytes().count(b"\n") < n
        ):
            await asyncio.sleep(0.005)
        cluster.alive = False

    killer = asyncio.create_task(kill_after(5))
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match="stopped answering"):
        await _run(run_dir, tasks, cluster)
    assert time.monotonic() - started < 5  # not 40 attempts × (4 tries × 30 s)
    await killer
    store = RunStore.open(run_dir)
    done = store.finished_keys()
    assert 5 <= len(done) < len(tasks)
    store.close()

    cluster.alive = True
    store = await _run(run_dir, tasks, cluster)
    lines = (run_dir / "attempts.jsonl").read_text().splitlines()
    graded = Counter(
        rec.attempt_key for rec in store.attempt_history() if rec.infrastructure_error is None
    )
    assert len(lines) >= len(tasks)
    assert set(graded) == {f"{t.id}#0" for t in tasks}
    assert max(graded.values()) == 1  # nothing graded twice
    assert all(r.success for r in store.attempts())
