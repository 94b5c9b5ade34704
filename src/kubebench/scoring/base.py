"""The Scorer protocol: `await scorer.score(task, attempt, context) -> Score`.

Shaped after inspect_ai's Scorer: one async call per attempt, returning a value with
an explanation and free metadata. A scorer has a `name` and a `version` (a change of
definition is a new version); scores are stored and compared by both, so scores made
under different definitions are never mixed up. `context` carries what a scorer may
need beyond the task and the answer: the cluster client, and what the scorers before it
found for this attempt (the judge reads the grader's verdict there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from kubebench.grading.verdict import Verdict
from kubebench.tasks.schema import Task

if TYPE_CHECKING:
    from kubebench.cluster.client import KubeClient

# A score's value: a number or flag, a label, or named components (the grader's three
# validities, the judge's criteria); None when the scorer could not score the attempt.
ScoreValue = bool | int | float | str | dict[str, bool | int | float | str | None] | None


class Score(BaseModel):
    """What one scorer said about one attempt."""

    name: str
    version: str
    value: ScoreValue = None
    explanation: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return score_key(self.name, self.version)

    @property
    def scored(self) -> bool:
        """False when the scorer could not score (an unreadable judge reply): such a
        score is counted apart, never averaged as a low one."""
        return self.value is not None


def score_key(name: str, version: str) -> str:
    """The identity of a scorer's definition: `name@version`."""
    return f"{name}@{version}"


class ScoreRecord(BaseModel):
    """One line of a run's scores.jsonl: which attempt, what score, when."""

    attempt_key: str
    score: Score
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())


class Attempt(Protocol):
    """What a scorer reads of an attempt (`kubebench.runner.records.AttemptRecord` has it)."""

    attempt_key: str
    task_id: str
    answer: str


@dataclass
class ScoringContext:
    """What the scorers of one attempt share: the cluster (None when scoring a stored
    run offline) and what the scorers before this one found."""

    kube: KubeClient | None = None
    verdict: Verdict | None = None  # the cluster grader's, once it has run
    scores: dict[str, Score] = field(default_factory=dict)  # by scorer name


@runtime_checkable
class Scorer(Protocol):
    """Scores one attempt. Raise InfrastructureError when the scorer's surroundings
    failed (an endpoint, the API server): the attempt is retried, never scored low."""

    name: str
    version: str
    needs_cluster: bool  # True: only `kubebench run` (which has a cluster) can run it
    needs_verdict: bool  # True: scores only graded attempts, after the grader

    async def score(self, task: Task, attempt: Attempt, context: ScoringContext) -> Score: ...

    async def aclose(self) -> None: ...
