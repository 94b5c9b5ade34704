"""What a run writes to disk: its metadata (run.json) and one record per attempt.

Pydantic, because these are the file edge: every line of attempts.jsonl is one
`AttemptRecord` serialised with `model_dump_json()`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kubebench.grading.verdict import Verdict
from kubebench.models.base import ChatMessage, GenerationConfig

RUN_SCHEMA_VERSION = 1

# "grading" and "judge" are what runs written before scorers kept; a run now records
# "scoring" and names the scorer that failed in `infrastructure_scorer`.
InfrastructureStage = Literal["generation", "scoring", "grading", "judge"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def attempt_key(task_id: str, sample: int) -> str:
    """The identity of one attempt within a run: task id and sample index."""
    return f"{task_id}#{sample}"


class RunMeta(BaseModel):
    """run.json: everything needed to reproduce, resume and label a run."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = RUN_SCHEMA_VERSION
    run_id: str
    model_id: str
    # The ids as given, options included (`openai:x?base_url=…`): what `--resume` creates
    # the providers from. Ids never hold credentials (the registry refuses them).
    model_spec: str | None = None
    judge_spec: str | None = None
    # The scorer specs the run scores every attempt with, in order (`grader` first).
    # Runs written before scorers were named have none: see `scorer_specs`.
    scorers: list[str] = Field(default_factory=list)
    provider: dict[str, Any] = Field(default_factory=dict)  # the provider's describe()
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    prompt_version: str = ""
    shots: int = 0
    task_set_hash: str = ""
    split: str = "test"
    filters: dict[str, Any] = Field(default_factory=dict)
    samples: int = 1
    task_ids: list[str] = Field(default_factory=list)  # the planned tasks, in order
    judge_id: str | None = None
    judge_provider: dict[str, Any] | None = None
    kubebench_version: str = ""
    git_revision: str | None = None
    kubernetes_version: str | None = None  # the API server's gitVersion
    cluster: str | None = None  # the API server address the run graded against
    python_version: str = ""
    packages: dict[str, str] = Field(default_factory=dict)
    created_at: str = Field(default_factory=utc_now)

    @property
    def planned_attempts(self) -> int:
        return len(self.task_ids) * self.samples

    @property
    def scorer_specs(self) -> list[str]:
        """The run's scorers; for an older run, the grader and its `--judge` if any."""
        if self.scorers:
            return list(self.scorers)
        judge = self.judge_spec or self.judge_id
        return ["grader", *([f"judge:{judge}"] if judge else [])]


class AttemptRecord(BaseModel):
    """One finished attempt: prompt, answer, the grader's verdict, cost and timings
    (every score, the grader's included, is in scores.jsonl).

    `infrastructure_error` set means the harness failed, not the model: such a record
    counts in no rate and is retried on `--resume` (from `infrastructure_stage`).
    """

    model_config = ConfigDict(extra="allow")

    attempt_key: str
    task_id: str
    sample: int
    category: str = ""  # the task's kind, kept here so reports need no task file
    tier: str = ""
    model_id: str
    messages: list[ChatMessage] = Field(default_factory=list)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    answer: str = ""
    finish_reason: str | None = None
    verdict: Verdict | None = None
    infrastructure_error: str | None = None
    infrastructure_stage: InfrastructureStage | None = None
    infrastructure_scorer: str | None = None  # the scorer (name) that failed, at "scoring"
    retries: int = 0  # infrastructure retries spent on this attempt, all stages
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0  # the model call (0 when cached)
    cached: bool = False
    # Written by runs before scores were stored apart (read into scores.jsonl's view by
    # kubebench.runner.scores); new runs leave them empty.
    judge_id: str | None = None
    judgement: dict[str, Any] | None = None  # kubebench.judge.schema.Judgement as JSON
    overall_score: float | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    finished_at: str = Field(default_factory=utc_now)

    @property
    def runtime_valid(self) -> bool:
        return bool(self.verdict and self.verdict.runtime_valid)

    @property
    def operational_valid(self) -> bool:
        return bool(self.verdict and self.verdict.operational_valid)

    @property
    def success(self) -> bool:
        return self.infrastructure_error is None and bool(self.verdict and self.verdict.success)

    @property
    def graded(self) -> bool:
        """True when the attempt counts in the rates (no infrastructure error)."""
        return self.infrastructure_error is None and self.verdict is not None
