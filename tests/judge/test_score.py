"""The overall score, computed exactly as docs/judge.md documents it."""

from __future__ import annotations

import pytest

from kubebench.grading.verdict import Stage, Verdict
from kubebench.judge.schema import Judgement
from kubebench.judge.score import OVERALL_SCORE_VERSION, judge_component, overall_score


def verdict(runtime: bool, operational: bool, infra: str | None = None) -> Verdict:
    stage = Stage.passed if operational else Stage.expectations
    return Verdict(
        task_id="t",
        runtime_valid=runtime,
        operational_valid=operational,
        stage=stage,
        infrastructure_error=infra,
    )


def scored(intent: int, security: int, best_practice: int, reasoning: int) -> Judgement:
    scores = {
        "intent": intent,
        "security": security,
        "best_practice": best_practice,
        "reasoning": reasoning,
    }
    return Judgement(judge_id="j", scored=True, scores=scores)


def test_version_is_recorded() -> None:
    assert OVERALL_SCORE_VERSION == "1"


@pytest.mark.parametrize(
    ("runtime", "operational", "scores", "expected"),
    [
        (True, True, (5, 5, 5, 5), 1.0),
        (False, False, (1, 1, 1, 1), 0.0),
        # 0.25*1 + 0.5*0 + 0.25*((3+4+2+3)/4 - 1)/4 = 0.25 + 0.25*0.5 = 0.375
        (True, False, (3, 4, 2, 3), 0.375),
        # 0.25 + 0.5 + 0.25*((2+2+2+2)/4-1)/4 = 0.75 + 0.0625 = 0.8125
        (True, True, (2, 2, 2, 2), 0.8125),
    ],
)
def test_overall_weighting(
    runtime: bool, operational: bool, scores: tuple[int, int, int, int], expected: float
) -> None:
    assert overall_score(verdict(runtime, operational), scored(*scores)) == pytest.approx(expected)


def test_unscored_or_absent_judgement_gives_no_overall_never_a_zero() -> None:
    unscored = Judgement(judge_id="j", scored=False, error="unparsable")
    assert overall_score(verdict(True, True), unscored) is None
    assert overall_score(verdict(True, True), None) is None
    assert judge_component(unscored) is None


def test_infrastructure_error_gives_no_overall() -> None:
    assert overall_score(verdict(False, False, infra="apiserver down"), scored(3, 3, 3, 3)) is None
