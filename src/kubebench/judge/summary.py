"""Aggregates over many judgements: per-criterion means, scored/unscored counts, cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kubebench.judge.rubric import CRITERION_NAMES
from kubebench.judge.schema import Judgement


@dataclass
class JudgementSummary:
    """Per-criterion means over scored judgements; unscored ones are only counted."""

    judged: int = 0
    scored: int = 0
    unscored: int = 0
    means: dict[str, float] = field(default_factory=dict)
    mean_overall_judge: float | None = None  # mean of per-attempt criterion means
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    rubric_versions: set[str] = field(default_factory=set)


def summarize_judgements(judgements: Iterable[Judgement]) -> JudgementSummary:
    """Means per criterion over the scored judgements, with the judge's usage totals."""
    summary = JudgementSummary()
    totals = dict.fromkeys(CRITERION_NAMES, 0)
    per_attempt_means: list[float] = []
    for judgement in judgements:
        summary.judged += 1
        summary.rubric_versions.add(judgement.rubric_version)
        summary.prompt_tokens += judgement.prompt_tokens or 0
        summary.completion_tokens += judgement.completion_tokens or 0
        summary.latency_s += judgement.latency_s
        if judgement.cost_usd is not None:
            summary.cost_usd = (summary.cost_usd or 0.0) + judgement.cost_usd
        mean = judgement.mean_score()
        if mean is None or judgement.scores is None:
            summary.unscored += 1
            continue
        summary.scored += 1
        per_attempt_means.append(mean)
        for name in CRITERION_NAMES:
            totals[name] += judgement.scores.get(name, 0)
    if summary.scored:
        summary.means = {name: totals[name] / summary.scored for name in CRITERION_NAMES}
        summary.mean_overall_judge = sum(per_attempt_means) / len(per_attempt_means)
    return summary
