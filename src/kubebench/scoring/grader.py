"""The cluster grader as a scorer: runtime validity, operational validity, success.

Its value is the three flags; the full `Verdict` (documents, server messages, observed
values) is the attempt's evidence and is left in the context, where the runner keeps it
with the attempt and the judge reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kubebench.errors import InfrastructureError, UserError
from kubebench.grading.verdict import Verdict
from kubebench.scoring.base import Attempt, Score, ScoringContext
from kubebench.tasks.schema import Task

if TYPE_CHECKING:
    from kubebench.cluster.client import KubeClient

GRADER_NAME = "grader"
GRADER_VERSION = "1"

GradeFn = Callable[[Task, str, "KubeClient"], Awaitable[Verdict]]


def verdict_score(verdict: Verdict) -> Score:
    """The grader's score for a verdict (also how a run written before scores were
    stored apart is read: its verdicts become these scores)."""
    return Score(
        name=GRADER_NAME,
        version=GRADER_VERSION,
        value={
            "success": verdict.success,
            "runtime_valid": verdict.runtime_valid,
            "operational_valid": verdict.operational_valid,
        },
        explanation=verdict.reason,
        metadata={"stage": verdict.stage.value},
    )


class ClusterGrader:
    """Grades the answer on the API server (`kubebench.grading.pipeline.grade_answer`)."""

    name = GRADER_NAME
    version = GRADER_VERSION
    needs_cluster = True
    needs_verdict = False

    def __init__(self, grade: GradeFn | None = None) -> None:
        if grade is None:
            from kubebench.grading.pipeline import grade_answer

            grade = grade_answer
        self._grade = grade

    async def score(self, task: Task, attempt: Attempt, context: ScoringContext) -> Score:
        verdict = await self._grade(task, attempt.answer, context.kube)  # type: ignore[arg-type]
        context.verdict = verdict  # kept even when it is an infrastructure error's
        if verdict.infrastructure_error:
            raise InfrastructureError(verdict.infrastructure_error)
        return verdict_score(verdict)

    async def aclose(self) -> None:
        return None


def create_grader(argument: str = "") -> ClusterGrader:
    """The registry's factory for `grader` (it takes no argument)."""
    if argument:
        raise UserError(f"the grader takes no argument (got grader:{argument})")
    return ClusterGrader()
