"""The overall benchmark score: one documented, versioned weighting of the three grades.

overall = 0.25 * runtime_valid + 0.50 * operational_valid + 0.25 * judge_component
where runtime_valid and operational_valid are 1 or 0 and
judge_component = (mean criterion score - 1) / 4, mapping 1..5 onto 0..1.

The overall score is None when the judgement is absent or unscored, or the verdict
carries an infrastructure error: reports then show the components alone, never an
overall that silently treats a missing judgement as a zero. See docs/judge.md.
"""

from __future__ import annotations

from kubebench.grading.verdict import Verdict
from kubebench.judge.rubric import SCORE_MAX, SCORE_MIN
from kubebench.judge.schema import Judgement

OVERALL_SCORE_VERSION = "1"

WEIGHT_RUNTIME = 0.25
WEIGHT_OPERATIONAL = 0.50
WEIGHT_JUDGE = 0.25


def judge_component(judgement: Judgement | None) -> float | None:
    """The judge's mean criterion score mapped onto 0..1, or None when unscored/absent."""
    mean = judgement.mean_score() if judgement is not None else None
    if mean is None:
        return None
    return (mean - SCORE_MIN) / (SCORE_MAX - SCORE_MIN)


def overall_score(verdict: Verdict, judgement: Judgement | None) -> float | None:
    """The overall score in 0..1 (version OVERALL_SCORE_VERSION), or None as documented."""
    if verdict.infrastructure_error:
        return None
    judged = judge_component(judgement)
    if judged is None:
        return None
    return (
        WEIGHT_RUNTIME * float(verdict.runtime_valid)
        + WEIGHT_OPERATIONAL * float(verdict.operational_valid)
        + WEIGHT_JUDGE * judged
    )
