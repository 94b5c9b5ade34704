"""Scoring a stored run without regenerating: `kubebench score RUN --scorer SPEC`.

The run store belongs to the runner room, above this one, so it is passed in as anything
with the `ScoreStore` shape (`kubebench.runner.store.RunStore` has it). Resumable:
attempts that already hold a score of this scorer's name and version are skipped, and
other scorers' scores are left alone. Scores are appended as they are made, so an
interrupted call loses only the scores in flight; an endpoint failure on one attempt
writes nothing for it (the next call retries it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kubebench import defaults
from kubebench.errors import InfrastructureError, UserError
from kubebench.grading.verdict import Verdict
from kubebench.scoring.base import Score, Scorer, ScoreRecord, ScoringContext
from kubebench.tasks.schema import Task


class StoredAttempt(Protocol):
    attempt_key: str
    task_id: str
    answer: str
    verdict: Verdict | None
    infrastructure_error: str | None


class ScoreStore(Protocol):
    def attempts(self) -> Sequence[StoredAttempt]: ...

    def scores(self) -> Mapping[str, Mapping[str, Score]]: ...

    def append_score(self, rec: ScoreRecord) -> None: ...


@dataclass
class DeferredScoring:
    """What one `score_run` did, for one scorer."""

    scorer: str  # name@version
    scored: list[ScoreRecord] = field(default_factory=list)
    already_scored: int = 0
    not_graded: int = 0  # no verdict or an infrastructure error: nothing to score yet
    failures: dict[str, str] = field(default_factory=dict)  # attempt_key -> endpoint error


def pending_attempts(store: ScoreStore, key: str) -> tuple[list[StoredAttempt], int, int]:
    """Attempts without a current score `key` (name@version), and how many already had
    one / were not graded."""
    current = store.scores()
    pending, already, ungraded = [], 0, 0
    for attempt in store.attempts():
        if key in current.get(attempt.attempt_key, {}):
            already += 1
        elif attempt.verdict is None or attempt.infrastructure_error:
            ungraded += 1
        else:
            pending.append(attempt)
    return pending, already, ungraded


async def score_run(
    store: ScoreStore,
    scorer: Scorer,
    task_for: Callable[[str], Task],
    *,
    concurrency: int = defaults.JUDGE_CONCURRENCY,
    on_planned: Callable[[int], None] | None = None,
    on_scored: Callable[[ScoreRecord | None], None] | None = None,
) -> DeferredScoring:
    """Score every graded attempt of `store` that has no current score of `scorer`."""
    if getattr(scorer, "needs_cluster", False):
        raise UserError(
            f"scorer {scorer.name} grades on a cluster: its scores come from `kubebench run`"
        )
    key = f"{scorer.name}@{scorer.version}"
    pending, already, ungraded = pending_attempts(store, key)
    result = DeferredScoring(key, already_scored=already, not_graded=ungraded)
    # Look every task up before scoring, so an unknown task id fails fast.
    tasks = {attempt.task_id: task_for(attempt.task_id) for attempt in pending}
    if on_planned:
        on_planned(len(pending))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def score_one(attempt: StoredAttempt) -> None:
        context = ScoringContext(verdict=attempt.verdict)
        async with gate:
            try:
                score = await scorer.score(tasks[attempt.task_id], attempt, context)
            except InfrastructureError as exc:
                result.failures[attempt.attempt_key] = exc.one_line()
                if on_scored:
                    on_scored(None)
                return
        rec = ScoreRecord(attempt_key=attempt.attempt_key, score=score)
        store.append_score(rec)
        result.scored.append(rec)
        if on_scored:
            on_scored(rec)

    await asyncio.gather(*(score_one(a) for a in pending))
    return result
