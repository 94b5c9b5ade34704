"""Starting and resuming a benchmark run: plan the attempts, open the store, run the
pipeline against a cluster.

`prepare_run` / `prepare_resume` do everything that can fail on bad input before a
cluster starts; `execute_run` then needs only a connection.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubebench
from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.cluster.kubeconfig import Connection
from kubebench.errors import InfrastructureError, UserError
from kubebench.models.base import ChatMessage, GenerationConfig, ModelProvider
from kubebench.models.options import strip_userinfo
from kubebench.runner.cache import ResponseCache
from kubebench.runner.circuit import ClusterCircuitBreaker
from kubebench.runner.pipeline import (
    AttemptPipeline,
    Concurrency,
    GradeFn,
    PlannedAttempt,
    RetryPolicy,
)
from kubebench.runner.provenance import git_revision, package_versions, python_version
from kubebench.runner.records import AttemptRecord, RunMeta
from kubebench.runner.store import RunStore
from kubebench.scoring.base import Score, Scorer
from kubebench.settings import settings
from kubebench.tasks.schema import Task
from kubebench.tasks.selection import TaskSelection, select_tasks

GRADER_SPEC = "grader"


@dataclass
class RunRequest:
    """A new run, as the user asked for it."""

    model_id: str
    split: str = defaults.DEFAULT_TASK_SPLIT
    selection: TaskSelection = field(default_factory=TaskSelection)
    samples: int = 1
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    shots: int = 0
    judge_id: str | None = None  # `--judge X`: the scorer `judge:X`
    scorers: tuple[str, ...] = ()  # more scorer specs (`--scorer`), after grader and judge
    out_dir: Path = Path(defaults.RUNS_DIR)
    run_id: str | None = None


@dataclass
class PreparedRun:
    """A run ready to execute: its store (or the store to create), tasks and providers."""

    meta: RunMeta
    run_dir: Path
    tasks: dict[str, Task]
    planned: list[PlannedAttempt]
    provider: ModelProvider
    scorers: list[Scorer] = field(default_factory=list)  # in run.json's order
    store: RunStore | None = None  # set when resuming; created by execute_run otherwise
    already_done: list[AttemptRecord] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)  # the grader's, after the run
    seconds: float | None = None  # wall time of the attempts, cluster start-up excluded

    @property
    def total(self) -> int:
        return self.meta.planned_attempts


def _load_split(split: str) -> list[Task]:
    from kubebench.tasks.loader import load_tasks

    return load_tasks(split=split)


def _task_set_hash(tasks: list[Task]) -> str:
    from kubebench.tasks.loader import task_set_hash

    return task_set_hash(tasks)


def create_model(model_id: str) -> ModelProvider:
    """A provider for `provider:name` through the models registry."""
    from kubebench.models.registry import create_provider

    return create_provider(model_id)


def prompt_version() -> str:
    from kubebench.models.prompts import PROMPT_VERSION

    return str(PROMPT_VERSION)


def messages_builder(shots: int) -> Callable[[Task], list[ChatMessage]]:
    from kubebench.models.prompts import build_messages

    return lambda task: build_messages(task, shots=shots)


def default_run_id(model_id: str, out_dir: Path) -> str:
    """`<UTC time>-<model slug>`, with a counter when that folder already exists."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-")[:60] or "model"
    run_id, n = f"{stamp}-{slug}", 2
    while (out_dir / run_id).exists():
        run_id, n = f"{stamp}-{slug}-{n}", n + 1
    return run_id


def plan_attempts(
    task_ids: list[str],
    tasks: dict[str, Task],
    samples: int,
    *,
    finished: set[str] = frozenset(),  # type: ignore[assignment]
    retry_from: dict[str, AttemptRecord] | None = None,
    scored: dict[str, dict[str, Score]] | None = None,
) -> list[PlannedAttempt]:
    """Every (task, sample) not yet finished, tasks in order, samples interleaved so an
    interrupted run has spread its work over all tasks. An attempt retried after an
    infrastructure error keeps the scores `scored` holds for it."""
    retry_from = retry_from or {}
    planned = []
    for sample in range(samples):
        for task_id in task_ids:
            item = PlannedAttempt(tasks[task_id], sample)
            if item.key in finished:
                continue
            item.previous = retry_from.get(item.key)
            if item.previous is not None and scored:
                item.scored = dict(scored.get(item.key, {}))
            planned.append(item)
    return planned


def scorer_specs(request: RunRequest) -> list[str]:
    """The scorers of a new run, in order: the grader, the judge, then `--scorer`s."""
    specs = [GRADER_SPEC]
    if request.judge_id:
        specs.append(f"judge:{request.judge_id}")
    specs += [s for s in request.scorers if s not in specs]
    return specs


def create_scorers(specs: list[str]) -> list[Scorer]:
    """The scorers named by `specs` (kubebench.scoring.registry)."""
    from kubebench.scoring.registry import create_scorer

    return [create_scorer(spec) for spec in specs]


def prepare_run(request: RunRequest) -> PreparedRun:
    """Validate a new run's request and plan it; writes nothing yet."""
    if request.samples < 1:
        raise UserError("--samples must be at least 1")
    all_tasks = _load_split(request.split)
    chosen = select_tasks(all_tasks, request.selection)
    provider = create_model(request.model_id)
    specs = scorer_specs(request)
    scorers = create_scorers(specs)
    out_dir = Path(request.out_dir)
    run_id = request.run_id or default_run_id(provider.model_id, out_dir)
    if request.run_id is not None and (out_dir / run_id / "run.json").exists():
        raise UserError(
            f"run {out_dir / run_id} already exists",
            hint=f"continue it with `kubebench run --resume {out_dir / run_id}`",
        )
    meta = RunMeta(
        run_id=run_id,
        model_id=provider.model_id,
        model_spec=request.model_id,
        judge_spec=request.judge_id,
        scorers=specs,
        provider=provider.describe(),
        generation=request.generation,
        prompt_version=prompt_version(),
        shots=request.shots,
        task_set_hash=_task_set_hash(all_tasks),
        split=request.split,
        filters=request.selection.as_dict(),
        samples=request.samples,
        task_ids=[t.id for t in chosen],
        judge_id=request.judge_id,
        kubebench_version=kubebench.__version__,
        git_revision=git_revision(),
        python_version=python_version(),
        packages=package_versions(),
    )
    tasks = {t.id: t for t in chosen}
    return PreparedRun(
        meta=meta,
        run_dir=out_dir / run_id,
        tasks=tasks,
        planned=plan_attempts(meta.task_ids, tasks, meta.samples),
        provider=provider,
        scorers=scorers,
    )


def prepare_resume(run_dir: Path) -> PreparedRun:
    """Reopen a run and plan what is left: attempts never recorded, and those recorded
    with an infrastructure error (retried from the stage that failed)."""
    store = RunStore.open(run_dir)
    store.lock()
    meta = store.meta
    all_tasks = _load_split(meta.split)
    current_hash = _task_set_hash(all_tasks)
    if meta.task_set_hash and current_hash != meta.task_set_hash:
        store.close()
        raise UserError(
            f"the {meta.split} tasks changed since {run_dir} started "
            f"(task-set hash {meta.task_set_hash[:12]} then, {current_hash[:12]} now)",
            hint="start a new run; a resumed run must grade the same tasks",
        )
    by_id = {t.id: t for t in all_tasks}
    missing = [tid for tid in meta.task_ids if tid not in by_id]
    if missing:
        store.close()
        raise UserError(f"{len(missing)} tasks of {run_dir} no longer exist (e.g. {missing[0]})")
    tasks = {tid: by_id[tid] for tid in meta.task_ids}
    provider = create_model(meta.model_spec or meta.model_id)
    scorers = create_scorers(meta.scorer_specs)
    current = store.attempts()
    done = [rec for rec in current if rec.infrastructure_error is None]
    retry_from = store.pending_retries()
    planned = plan_attempts(
        meta.task_ids,
        tasks,
        meta.samples,
        finished=store.finished_keys(),
        retry_from=retry_from,
        scored=store.scores(current) if retry_from else None,
    )
    return PreparedRun(
        meta=meta,
        run_dir=Path(run_dir),
        tasks=tasks,
        planned=planned,
        provider=provider,
        scorers=scorers,
        store=store,
        already_done=done,
    )


async def _settle_cleanups(kube: KubeClient) -> list[str]:
    """Wait for the grader's background cleanups before the client closes; their errors."""
    from kubebench.grading.pipeline import settle_cleanups

    return await settle_cleanups(kube)


async def execute_run(
    prepared: PreparedRun,
    conn: Connection,
    *,
    concurrency: Concurrency | None = None,
    retry: RetryPolicy | None = None,
    use_cache: bool = True,
    on_record: Callable[[AttemptRecord], None] = lambda _: None,
    grade: GradeFn | None = None,
    health_probe: bool = True,
) -> RunStore:
    """Run every planned attempt against the cluster at `conn`, storing each as it
    finishes. Creates the run folder for a new run. Returns the store (still open).

    A circuit breaker watches the cluster (`health_probe`): when it stops answering, the
    run stops within seconds with an InfrastructureError; the attempts it cut off are
    not recorded, and `--resume` does them."""
    from kubebench.cluster.health import probe_api_server

    concurrency = concurrency or Concurrency()
    cache = ResponseCache(settings().response_cache_path) if use_cache else None
    max_conn = max(64, 4 * concurrency.grading)
    try:
        async with KubeClient(conn, max_connections=max_conn) as kube:
            server_version = (await kube.version()).get("gitVersion")
            store = prepared.store
            if store is None:
                prepared.meta.kubernetes_version = server_version
                prepared.meta.cluster = strip_userinfo(conn.server)
                store = RunStore.create(prepared.run_dir, prepared.meta, lock=True)
                prepared.store = store
            breaker = (
                ClusterCircuitBreaker(
                    lambda: probe_api_server(kube), where=strip_userinfo(conn.server)
                )
                if health_probe
                else None
            )
            pipeline = AttemptPipeline(
                provider=prepared.provider,
                generation=prepared.meta.generation,
                messages_for=messages_builder(prepared.meta.shots),
                scorers=_with_grader(prepared.scorers, grade),
                kube=kube,
                store_append=store.append_attempt,
                store_score=store.append_score,
                on_record=on_record,
                cache=cache,
                concurrency=concurrency,
                retry=retry,
                breaker=breaker,
            )
            started = time.monotonic()
            try:
                await pipeline.run(prepared.planned)
            except InfrastructureError as exc:
                if breaker is not None and breaker.tripped:
                    exc.hint = (
                        f"`kubebench run --resume {prepared.run_dir}` redoes every attempt not "
                        "graded, once the cluster is back (`kubebench cluster status`)"
                    )
                raise
            finally:
                # Also on Ctrl-C: the attempts in flight leave nothing behind. On a dead
                # cluster the cleanups cannot finish: wait only briefly, then give up.
                grace = defaults.CANCEL_CLEANUP_GRACE_S if breaker and breaker.tripped else None
                try:
                    async with asyncio.timeout(grace):
                        prepared.cleanup_errors = await _settle_cleanups(kube)
                except TimeoutError:
                    prepared.cleanup_errors = ["cleanup stopped: the cluster is not answering"]
            prepared.seconds = time.monotonic() - started
    finally:
        if cache is not None:
            cache.close()
        await prepared.provider.aclose()
        for scorer in prepared.scorers:
            close = getattr(scorer, "aclose", None)
            if close is not None:
                await close()
    return store


def _with_grader(scorers: list[Scorer], grade: GradeFn | None) -> list[Scorer]:
    """The run's scorers, the grader grading with `grade` when one is given (tests)."""
    if grade is None:
        return scorers
    from kubebench.scoring.grader import GRADER_NAME, ClusterGrader

    return [ClusterGrader(grade) if s.name == GRADER_NAME else s for s in scorers]


def run_sync(prepared: PreparedRun, conn: Connection, **options: Any) -> RunStore:
    """`execute_run` from synchronous code (the CLI)."""
    return asyncio.run(execute_run(prepared, conn, **options))
