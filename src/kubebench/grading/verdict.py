"""The grader's output types, written verbatim into a run's attempts.jsonl."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Stage(StrEnum):
    """Where an attempt stopped. `passed` when every check held."""

    extract = "extract"
    parse = "parse"
    scope = "scope"
    dry_run = "dry_run"
    apply = "apply"
    expectations = "expectations"
    passed = "passed"


class DocumentResult(BaseModel):
    """One YAML document of the answer and what the API server said of it."""

    index: int
    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str | None = None
    dry_run_ok: bool = False
    applied: bool = False
    message: str = ""  # the server's own message on failure
    reason: str = ""  # its Status reason (Invalid, BadRequest, ...)
    causes: list[str] = Field(default_factory=list)  # every `field: message` it listed
    warnings: list[str] = Field(default_factory=list)


class ExpectationResult(BaseModel):
    """One expectation (or one access check) and what was observed."""

    index: int
    kind: str  # "object" or "access"
    description: str
    passed: bool
    reason: str = ""
    observed: Any = None


class Verdict(BaseModel):
    """The grade of one answer. success = runtime_valid and operational_valid."""

    task_id: str
    runtime_valid: bool = False
    operational_valid: bool = False
    stage: Stage
    reason: str = ""  # one line a person can act on
    documents: list[DocumentResult] = Field(default_factory=list)
    expectations: list[ExpectationResult] = Field(default_factory=list)
    prose: str = ""  # the answer's text outside YAML, kept for the judge
    infrastructure_error: str | None = None  # set => not a model failure; retry
    # Set when the attempt's objects could not all be removed afterwards; the grade
    # stands, and the next attempt on these names clears them before it starts.
    cleanup_error: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.runtime_valid and self.operational_valid and not self.infrastructure_error
