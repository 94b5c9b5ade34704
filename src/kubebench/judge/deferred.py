"""Judging an existing run without regenerating: read attempts, append judgements.

The run store belongs to the runner room, which sits above this one, so it is passed in
as anything with the `JudgementStore` shape (`kubebench.runner.store.RunStore` has it).
Judging is resumable: attempts this judge already judged are skipped, and judgements
by other judges are left alone, so judging a run again with another judge keeps both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubebench import defaults
from kubebench.errors import InfrastructureError
from kubebench.grading.verdict import Verdict
from kubebench.judge.api import JudgePrice, judge_attempt
from kubebench.judge.schema import Judgement, JudgementRecord
from kubebench.models.base import GenerationConfig, ModelProvider
from kubebench.tasks.schema import Task


class JudgeableAttempt(Protocol):
    attempt_key: str
    task_id: str
    answer: str
    verdict: Verdict | None
    infrastructure_error: str | None
    judgement: dict[str, Any] | None  # a Judgement made during the run itself, as JSON


class JudgementStore(Protocol):
    def attempts(self) -> Sequence[JudgeableAttempt]: ...

    def judgements(self, judge_id: str | None = None) -> Sequence[JudgementRecord]: ...

    def append_judgement(self, rec: JudgementRecord) -> None: ...


@dataclass
class DeferredJudging:
    """What one `judge_run` did."""

    judged: list[JudgementRecord] = field(default_factory=list)
    already_judged: int = 0
    not_graded: int = 0  # no verdict or an infrastructure error: nothing to judge yet
    failures: dict[str, str] = field(default_factory=dict)  # attempt_key -> endpoint error


def judgements_by_attempt(store: JudgementStore, judge_id: str) -> dict[str, Judgement]:
    """This judge's current judgement of each attempt: one made during the run (kept in
    the attempt record), superseded by the last line of judgements.jsonl if any."""
    found: dict[str, Judgement] = {}
    for attempt in store.attempts():
        inline = attempt.judgement
        if inline and inline.get("judge_id") == judge_id:
            found[attempt.attempt_key] = Judgement.model_validate(inline)
    for rec in store.judgements(judge_id):
        found[rec.attempt_key] = rec.judgement
    return found


def pending_attempts(
    store: JudgementStore, judge_id: str
) -> tuple[list[JudgeableAttempt], int, int]:
    """Attempts still to judge by `judge_id`, and how many were already judged / ungraded."""
    done = set(judgements_by_attempt(store, judge_id))
    pending, already, ungraded = [], 0, 0
    for attempt in store.attempts():
        if attempt.attempt_key in done:
            already += 1
        elif attempt.verdict is None or attempt.infrastructure_error:
            ungraded += 1
        else:
            pending.append(attempt)
    return pending, already, ungraded


async def judge_run(
    store: JudgementStore,
    judge: ModelProvider,
    task_for: Callable[[str], Task],
    *,
    concurrency: int = defaults.JUDGE_CONCURRENCY,
    max_reasks: int = defaults.JUDGE_MAX_REASKS,
    config: GenerationConfig | None = None,
    price: JudgePrice | None = None,
    on_planned: Callable[[int], None] | None = None,
    on_judged: Callable[[JudgementRecord | None], None] | None = None,
) -> DeferredJudging:
    """Judge every graded attempt of `store` that `judge` has not judged yet.

    Each judgement is appended as soon as it is made, so an interrupted call loses only
    the judgements in flight. An endpoint failure on one attempt is recorded in the
    result (and nothing is written for it, so the next call retries it).
    """
    pending, already, ungraded = pending_attempts(store, judge.model_id)
    result = DeferredJudging(already_judged=already, not_graded=ungraded)
    # Look every task up before judging, so an unknown task id fails fast.
    tasks = {attempt.task_id: task_for(attempt.task_id) for attempt in pending}
    if on_planned:
        on_planned(len(pending))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def judge_one(attempt: JudgeableAttempt) -> None:
        assert attempt.verdict is not None
        async with gate:
            try:
                judgement = await judge_attempt(
                    judge,
                    tasks[attempt.task_id],
                    attempt.answer,
                    attempt.verdict,
                    max_reasks=max_reasks,
                    config=config,
                    price=price,
                )
            except InfrastructureError as exc:
                result.failures[attempt.attempt_key] = exc.one_line()
                if on_judged:
                    on_judged(None)
                return
        rec = JudgementRecord(
            attempt_key=attempt.attempt_key, judge_id=judge.model_id, judgement=judgement
        )
        store.append_judgement(rec)
        result.judged.append(rec)
        if on_judged:
            on_judged(rec)

    await asyncio.gather(*(judge_one(a) for a in pending))
    return result
