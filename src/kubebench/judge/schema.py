"""The judge's records: a `Judgement` (kept whole in the metadata of the judge's score in
a run's scores.jsonl) and the `JudgementRecord` line older runs wrote to judgements.jsonl."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from kubebench.judge.rubric import RUBRIC_VERSION

__all__ = ["RUBRIC_VERSION", "Judgement", "JudgementRecord"]


class Judgement(BaseModel):
    """One judge's scores for one attempt.

    `scored=False` means the judge's reply could not be read after every re-ask (or
    was never asked); `scores` is then None and `error` says why. An unscored
    judgement is never a low score: aggregates skip it and count it apart.
    Tokens, latency and cost are the judge's own, summed over every ask.
    """

    judge_id: str
    rubric_version: str = RUBRIC_VERSION
    scored: bool
    scores: dict[str, int] | None = None  # criterion name -> 1..5
    rationale: str = ""
    error: str | None = None
    attempts: int = 0  # asks made, re-asks included
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    cost_usd: float | None = None  # None unless prices were given

    def mean_score(self) -> float | None:
        """The mean of the criterion scores, or None when unscored."""
        if not self.scored or not self.scores:
            return None
        return sum(self.scores.values()) / len(self.scores)


class JudgementRecord(BaseModel):
    """One judgement of one attempt by one judge (a line of an older run's judgements.jsonl)."""

    attempt_key: str
    judge_id: str
    judgement: Judgement
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
