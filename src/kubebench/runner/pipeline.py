"""The attempt pipeline: solve (generate an answer) → score → store, as asyncio stages
joined by bounded queues, each stage with its own concurrency.

Scoring runs the run's scorers (kubebench.scoring) in two stages: those that need the
cluster (the grader) at the grading concurrency, then the others (a judge, text
metrics) at theirs. The pipeline knows scorers only by the protocol; the grader leaves
its verdict in the scoring context, and the record keeps it as the attempt's evidence.

Model failures are graded; infrastructure failures are recorded apart so that `--resume`
retries them from the stage that failed, reusing whatever finished before it (the
answer, and every score already stored). A cluster scorer's infrastructure errors are
retried here, with backoff (`retry`); a model call (the answer, a judge) only by its
provider (`kubebench.retry`: one layer per call). A dead cluster is not left to each
attempt: the run's `ClusterCircuitBreaker` watches it and stops the whole run (see
runner/circuit.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.models.base import ChatMessage, Completion, GenerationConfig, ModelProvider
from kubebench.retry import RetryPolicy, with_retries
from kubebench.runner.cache import ResponseCache, cache_key, is_cacheable
from kubebench.runner.circuit import ClusterCircuitBreaker
from kubebench.runner.records import AttemptRecord, InfrastructureStage, attempt_key, utc_now
from kubebench.scoring.base import Score, Scorer, ScoreRecord, ScoringContext, score_key
from kubebench.scoring.grader import ClusterGrader, GradeFn, verdict_score
from kubebench.tasks.schema import Task

# Model calls are retried by their provider (kubebench.retry), never again here.
_ONCE = RetryPolicy(retries=0)

MessagesFn = Callable[[Task], list[ChatMessage]]
__all__ = ["AttemptPipeline", "Concurrency", "GradeFn", "PlannedAttempt", "RetryPolicy"]


@dataclass(frozen=True)
class Concurrency:
    generation: int = defaults.GENERATION_CONCURRENCY
    grading: int = defaults.GRADING_CONCURRENCY
    judging: int = defaults.GENERATION_CONCURRENCY


def sample_config(config: GenerationConfig, sample: int) -> GenerationConfig:
    """The config of one sample: a fixed seed is offset by the sample index, or every
    sample of a seeded sampling run would be the same answer."""
    if config.seed is None or sample == 0:
        return config
    return config.model_copy(update={"seed": config.seed + sample})


@dataclass
class PlannedAttempt:
    """One (task, sample) to do; `previous` is an infrastructure-error record to resume,
    `scored` the scores already stored for it (by `name@version`), which are kept."""

    task: Task
    sample: int
    previous: AttemptRecord | None = None
    scored: dict[str, Score] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return attempt_key(self.task.id, self.sample)


@dataclass
class _InFlight:
    planned: PlannedAttempt
    record: AttemptRecord
    context: ScoringContext
    new_scores: list[ScoreRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class AttemptPipeline:
    """Runs planned attempts to finished records; `on_record` sees each as it is stored."""

    def __init__(
        self,
        *,
        provider: ModelProvider,
        generation: GenerationConfig,
        messages_for: MessagesFn,
        kube: KubeClient,
        store_append: Callable[[AttemptRecord], None],
        scorers: Sequence[Scorer] | None = None,
        grade: GradeFn | None = None,
        store_score: Callable[[ScoreRecord], None] = lambda _: None,
        on_record: Callable[[AttemptRecord], None] = lambda _: None,
        cache: ResponseCache | None = None,
        concurrency: Concurrency | None = None,
        retry: RetryPolicy | None = None,
        breaker: ClusterCircuitBreaker | None = None,
    ) -> None:
        self.provider = provider
        self.generation = generation
        self.messages_for = messages_for
        # Without scorers, the cluster grader alone (with `grade`, a test's grader).
        chosen = list(scorers) if scorers is not None else [ClusterGrader(grade)]
        self.cluster_scorers = [s for s in chosen if getattr(s, "needs_cluster", False)]
        self.other_scorers = [s for s in chosen if not getattr(s, "needs_cluster", False)]
        self.kube = kube
        self.store_append = store_append
        self.store_score = store_score
        self.on_record = on_record
        self.concurrency = concurrency or Concurrency()
        self.retry = retry or RetryPolicy()
        self.breaker = breaker
        describe = provider.describe()
        self._describe = describe
        self.cache = cache if cache is not None and is_cacheable(describe) else None

    async def run(self, planned: list[PlannedAttempt]) -> None:
        """Finish every planned attempt; returns when all are stored."""
        todo: asyncio.Queue[PlannedAttempt | None] = asyncio.Queue()
        graded_in: asyncio.Queue[_InFlight | None] = asyncio.Queue(
            maxsize=2 * self.concurrency.grading
        )
        judged_in: asyncio.Queue[_InFlight | None] = asyncio.Queue(
            maxsize=2 * self.concurrency.judging
        )
        for item in planned:
            todo.put_nowait(item)
        n_gen, n_grade = self.concurrency.generation, self.concurrency.grading
        n_judge = self.concurrency.judging if self.other_scorers else 0
        for _ in range(n_gen):
            todo.put_nowait(None)
        workers: set[asyncio.Task[None]] = set()

        async def stage(
            n: int,
            source: asyncio.Queue[Any],
            work: Callable[[Any], Awaitable[None]],
            sink: asyncio.Queue[Any] | None,
            sink_workers: int,
        ) -> None:
            async def worker() -> None:
                me = asyncio.current_task()
                assert me is not None
                workers.add(me)
                while (item := await source.get()) is not None:
                    await work(item)

            async with asyncio.TaskGroup() as group:
                for _ in range(n):
                    group.create_task(worker())
            if sink is not None:
                for _ in range(sink_workers):
                    await sink.put(None)

        next_after_grade = judged_in if self.other_scorers else None

        async def grade_then_pass(item: _InFlight) -> None:
            await self._score(item, self.cluster_scorers, "grading_s", watched=True)
            if next_after_grade is not None and item.record.infrastructure_error is None:
                await next_after_grade.put(item)
            else:
                await self._finish(item)

        async def judge_then_finish(item: _InFlight) -> None:
            await self._score(item, self.other_scorers, "scoring_s", watched=False)
            await self._finish(item)

        async def generate_then_pass(item: PlannedAttempt) -> None:
            flight = await self._generate(item)
            if flight.record.infrastructure_error is None:
                await graded_in.put(flight)
            else:
                await self._finish(flight)

        async def all_stages() -> None:
            async with asyncio.TaskGroup() as group:
                group.create_task(stage(n_gen, todo, generate_then_pass, graded_in, n_grade))
                group.create_task(stage(n_grade, graded_in, grade_then_pass, judged_in, n_judge))
                if self.other_scorers:
                    group.create_task(stage(n_judge, judged_in, judge_then_finish, None, 0))

        try:
            if self.breaker is None:
                await all_stages()
            else:
                await self._run_watched(all_stages(), workers)
        except BaseExceptionGroup as group_error:
            # Show the error itself (a UserError prints as one line), not the task groups.
            raise _first_leaf(group_error) from group_error

    async def _run_watched(self, stages: Awaitable[None], workers: set[asyncio.Task[None]]) -> None:
        """Run the stages beside the circuit breaker's watch; when it trips, stop them
        and raise its error."""
        assert self.breaker is not None
        work = asyncio.ensure_future(stages)
        watcher = asyncio.ensure_future(self.breaker.watch())
        try:
            await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # Ctrl-C: let the attempts clean up, as ever
            watcher.cancel()
            work.cancel()
            await asyncio.wait({work, watcher})
            raise
        if work.done():
            watcher.cancel()
            await asyncio.wait({watcher})
            work.result()
            return
        await _stop_workers(work, workers)
        watcher.result()  # raises the breaker's InfrastructureError

    # -- stages -----------------------------------------------------------------------

    async def _generate(self, planned: PlannedAttempt) -> _InFlight:
        task, prev = planned.task, planned.previous
        record = AttemptRecord(
            attempt_key=planned.key,
            task_id=task.id,
            sample=planned.sample,
            category=task.category.value,
            tier=task.tier.value,
            model_id=self.provider.model_id,
            generation=sample_config(self.generation, planned.sample),
        )
        flight = _InFlight(planned, record, ScoringContext(kube=self.kube))
        if prev is not None and prev.infrastructure_stage not in (None, "generation"):
            # The answer was generated before the failure: reuse it, never re-generate.
            record.messages, record.answer = prev.messages, prev.answer
            record.finish_reason, record.cached = prev.finish_reason, prev.cached
            record.prompt_tokens, record.completion_tokens = (
                prev.prompt_tokens,
                prev.completion_tokens,
            )
            record.latency_s, record.retries = prev.latency_s, prev.retries
            record.timings = {k: v for k, v in prev.timings.items() if k != "total_s"}
            if prev.verdict is not None and not prev.verdict.infrastructure_error:
                # Grading finished before the failure: its verdict (the grader's score)
                # is kept as it is, never graded again.
                record.verdict = flight.context.verdict = prev.verdict
                grade = verdict_score(prev.verdict)
                planned.scored.setdefault(grade.key, grade)
            flight.context.scores = {s.name: s for s in planned.scored.values()}
            return flight
        started = time.monotonic()
        messages = self.messages_for(task)
        record.messages = messages
        config = record.generation
        key = cache_key(self._describe, config, messages, planned.sample)
        completion = self.cache.get(key) if self.cache else None
        if completion is not None:
            record.cached = True
        else:

            async def call() -> Completion:
                return await self.provider.complete(messages, config, task=task)

            completion, error, used = await with_retries(call, _ONCE)
            record.retries += used
            if completion is None:
                self._fail(record, "generation", error or "generation failed")
                return flight
            if self.cache is not None:
                self.cache.put(key, completion)
            record.latency_s = completion.latency_s
        record.answer = completion.text
        record.finish_reason = completion.finish_reason
        record.prompt_tokens = completion.prompt_tokens
        record.completion_tokens = completion.completion_tokens
        record.timings["generation_s"] = time.monotonic() - started
        return flight

    async def _score(
        self, flight: _InFlight, scorers: list[Scorer], timing: str, *, watched: bool
    ) -> None:
        """Run `scorers` in order on one attempt, skipping those whose score is stored
        already; the first that fails on infrastructure (after retries) stops the attempt."""
        record, task, context = flight.record, flight.planned.task, flight.context
        started = time.monotonic()
        before_retry = self.breaker.before_retry if watched and self.breaker else None
        for scorer in scorers:
            if score_key(scorer.name, scorer.version) in flight.planned.scored:
                continue

            async def call(scorer: Scorer = scorer) -> Score:
                return await scorer.score(task, record, context)

            # A scorer that calls a model (a judge) is retried by its provider only.
            policy = self.retry if scorer.needs_cluster else _ONCE
            score, error, used = await with_retries(call, policy, before_retry=before_retry)
            record.retries += used
            record.verdict = context.verdict
            if score is None:
                self._fail(record, "scoring", error or f"{scorer.name} failed", scorer.name)
                break
            context.scores[score.name] = score
            flight.new_scores.append(ScoreRecord(attempt_key=record.attempt_key, score=score))
        record.timings[timing] = record.timings.get(timing, 0.0) + time.monotonic() - started

    # -- finishing --------------------------------------------------------------------

    @staticmethod
    def _fail(
        record: AttemptRecord, stage: InfrastructureStage, error: str, scorer: str | None = None
    ) -> None:
        record.infrastructure_error = error
        record.infrastructure_stage = stage
        record.infrastructure_scorer = scorer

    async def _finish(self, flight: _InFlight) -> None:
        record = flight.record
        if self.breaker is not None:
            # A verdict reached while the cluster fails its health checks may be the
            # outage's, not the model's: store it only once the cluster answers again.
            # If the breaker trips instead, this attempt is cancelled and done on resume.
            await self.breaker.settled()
        record.timings["total_s"] = time.monotonic() - flight.started
        record.finished_at = utc_now()
        # Scores first: the attempt's line is what marks it done, so a kill between the
        # two leaves scores a resume supersedes, never an attempt without its scores.
        for score in flight.new_scores:
            self.store_score(score)
        self.store_append(record)
        self.on_record(record)


async def _stop_workers(work: asyncio.Future[None], workers: set[asyncio.Task[None]]) -> None:
    """Cancel the stages, and every worker again and again until it is gone: on a dead
    cluster an attempt's own cleanup waits (shielded) on requests that only time out
    after API_TIMEOUT_S, and one cancellation lets it sit there that long. Its cleanup
    carries on in the background (settle_cleanups is given a short grace by the caller);
    the attempt itself is not recorded, so `--resume` does it."""
    work.cancel()
    deadline = time.monotonic() + defaults.CANCEL_CLEANUP_GRACE_S
    while not work.done() and time.monotonic() < deadline:
        for task in workers:
            if not task.done():
                task.cancel()
        await asyncio.wait({work}, timeout=0.2)
    if work.done() and not work.cancelled():
        work.exception()  # retrieved: the breaker's error is the one to report
