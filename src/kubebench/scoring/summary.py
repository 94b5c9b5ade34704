"""The one rule for re-scoring and the one summary of scores.

Rule: for each attempt and scorer definition (name and version), the latest score wins;
earlier ones stay in the store for audit. Summary: per scorer definition, how many
attempts it scored and could not score, the mean of its value, the mean of each named
component (the judge's criteria), and, where the metadata has them, the judge's overall
score, tokens, latency and cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubebench.scoring.base import Score, ScoreRecord


def current_scores(history: Iterable[ScoreRecord]) -> dict[str, dict[str, Score]]:
    """attempt_key -> {`name@version` -> its latest Score}, from records in store order."""
    found: dict[str, dict[str, Score]] = {}
    for rec in history:
        found.setdefault(rec.attempt_key, {})[rec.score.key] = rec.score
    return found


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        return float(value)
    return None


@dataclass
class ScoreSummary:
    """One scorer definition's scores over a run."""

    name: str
    version: str
    scored: int = 0
    unscored: int = 0  # attempts it could not score: counted apart, never a low score
    mean: float | None = None  # of numeric (or true/false) values
    component_means: dict[str, float] = field(default_factory=dict)  # of dict values
    mean_overall_score: float | None = None  # a judge's overall score (metadata)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def judge_id(self) -> str:
        return self.name.removeprefix("judge:")

    @property
    def criterion_means(self) -> dict[str, float]:
        """A judge's per-criterion means (its components)."""
        return self.component_means

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "version": self.version,
            "scored": self.scored,
            "unscored": self.unscored,
            "mean": self.mean,
            "component_means": self.component_means,
            "mean_overall_score": self.mean_overall_score,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "cost_usd": self.cost_usd,
        }


def summarize_scores(scores: Iterable[Score]) -> list[ScoreSummary]:
    """One summary per scorer definition, in the order the definitions first appear."""
    by_key: dict[str, ScoreSummary] = {}
    values: dict[str, list[float]] = {}
    components: dict[str, dict[str, list[float]]] = {}
    overall: dict[str, list[float]] = {}
    for score in scores:
        summary = by_key.get(score.key)
        if summary is None:
            summary = by_key[score.key] = ScoreSummary(score.name, score.version)
            values[score.key], components[score.key], overall[score.key] = [], {}, []
        meta = score.metadata
        summary.prompt_tokens += int(meta.get("prompt_tokens") or 0)
        summary.completion_tokens += int(meta.get("completion_tokens") or 0)
        summary.latency_s += float(meta.get("latency_s") or 0.0)
        if meta.get("cost_usd") is not None:
            summary.cost_usd = (summary.cost_usd or 0.0) + float(meta["cost_usd"])
        if not score.scored:
            summary.unscored += 1
            continue
        summary.scored += 1
        if isinstance(score.value, dict):
            for part, value in score.value.items():
                if (number := _number(value)) is not None:
                    components[score.key].setdefault(part, []).append(number)
        elif (number := _number(score.value)) is not None:
            values[score.key].append(number)
        if (number := _number(meta.get("overall_score"))) is not None:
            overall[score.key].append(number)
    for key, summary in by_key.items():
        summary.mean = mean_or_none(values[key])
        summary.component_means = {p: sum(v) / len(v) for p, v in components[key].items()}
        summary.mean_overall_score = mean_or_none(overall[key])
    return list(by_key.values())


def mean_or_none(values: list[float]) -> float | None:
    """The mean, or None for no values."""
    return sum(values) / len(values) if values else None
