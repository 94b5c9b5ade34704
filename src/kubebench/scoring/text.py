"""The text metrics (kubebench.scoring.text_metrics) as scorers, one per metric.

Secondary to the grade: each compares the answer's code with the task's reference and
needs neither a cluster nor the verdict.
"""

from __future__ import annotations

from kubebench.errors import UserError
from kubebench.scoring.base import Attempt, Score, ScoringContext
from kubebench.scoring.text_metrics import TEXT_METRICS, TextMetric, text_metric
from kubebench.tasks.schema import Task


class TextMetricScorer:
    """One text metric against the task's reference, in [0, 1]."""

    needs_cluster = False
    needs_verdict = False

    def __init__(self, metric: TextMetric) -> None:
        self.metric = metric
        self.name = metric.name
        self.version = metric.version

    async def score(self, task: Task, attempt: Attempt, context: ScoringContext) -> Score:
        value = self.metric.score(attempt.answer, task.reference)
        return Score(name=self.name, version=self.version, value=value)

    async def aclose(self) -> None:
        return None


def text_metric_factory(name: str):  # type: ignore[no-untyped-def]
    """The registry's factory for the text metric `name`."""

    def create(argument: str = "") -> TextMetricScorer:
        if argument:
            raise UserError(f"the text metric {name} takes no argument")
        return TextMetricScorer(text_metric(name))

    create.__doc__ = next(m.summary for m in TEXT_METRICS if m.name == name)
    return create
