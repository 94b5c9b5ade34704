"""Calibration: labels file handling and the agreement report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebench.errors import UserError
from kubebench.grading.verdict import Stage, Verdict
from kubebench.judge.agreement import cohen_kappa
from kubebench.judge.calibrate import (
    CalibrationItem,
    HumanLabel,
    compute_calibration,
    judge_labelled,
    load_labels,
    resolve_labels,
)
from kubebench.judge.schema import Judgement
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.tasks.schema import Task
from tests.judge.doubles import ROLE_TASK, WILDCARD_ANSWER

NAMES = ("intent", "security", "best_practice", "reasoning")


def scores(*values: int) -> dict[str, int]:
    return dict(zip(NAMES, values, strict=True))


def judged(*values: int) -> Judgement:
    return Judgement(judge_id="j", scored=True, scores=scores(*values))


def test_load_labels_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    good = {"task_id": "t", "answer": "a", "scores": scores(1, 2, 3, 4), "passed": False}
    bad = {**good, "scores": {"intent": 3}}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(UserError, match=r"line 3 .*missing criteria"):
        load_labels(path)
    path.write_text(json.dumps(good) + "\n")
    assert load_labels(path)[0].scores == scores(1, 2, 3, 4)


def test_a_label_must_identify_an_attempt() -> None:
    with pytest.raises(ValueError, match="attempt_key or answer"):
        HumanLabel(task_id="t", scores=scores(1, 1, 1, 1))


def test_compute_calibration_matches_hand_values() -> None:
    # intent: judge == human everywhere -> kappa 1, raw 1.
    # security: human (1,2,3,4), judge (2,2,3,4): plain kappa by hand over levels 1..5.
    items = [
        CalibrationItem("a", scores(5, 1, 4, 3), True, [judged(5, 2, 4, 3)]),
        CalibrationItem("b", scores(4, 2, 4, 3), True, [judged(4, 2, 4, 3)]),
        CalibrationItem("c", scores(2, 3, 4, 3), False, [judged(2, 3, 4, 3)]),
        CalibrationItem("d", scores(1, 4, 4, 3), False, [judged(1, 4, 4, 3)]),
        CalibrationItem(
            "e",
            scores(3, 3, 3, 3),
            False,
            [Judgement(judge_id="j", scored=False, error="unparsable")],
        ),
    ]
    report = compute_calibration("j", items)
    by_name = {c.criterion: c for c in report.criteria}
    assert by_name["intent"].pairs == 4  # the unscored item is left out
    assert by_name["intent"].kappa_quadratic == pytest.approx(1.0)
    assert by_name["intent"].raw_agreement == pytest.approx(1.0)
    # observed agreement 3/4; chance: human (1/4 each of 1,2,3,4), judge (2:1/2, 3:1/4,
    # 4:1/4) -> pe = 1/4*1/2 + 1/4*1/4 + 1/4*1/4 = 1/4; kappa = (3/4-1/4)/(3/4) = 2/3.
    assert by_name["security"].kappa_plain == pytest.approx(2 / 3)
    assert by_name["security"].raw_agreement == pytest.approx(0.75)
    # best_practice and reasoning are constant on both sides: kappa undefined.
    assert by_name["reasoning"].kappa_quadratic is None
    assert report.unscored == 1
    # Judge intent 5,4 for passed vs 2,1 for failed: perfect separation.
    assert report.auc_judge == pytest.approx(1.0)
    # Humans: passed 5,4 vs failed 2,1,3 -> also perfect.
    assert report.auc_human == pytest.approx(1.0)
    assert (report.passed, report.failed) == (2, 3)


class ByAnswerAndSeed:
    """A judge double replying by (which labelled answer, which seed), in any call order."""

    model_id = "scripted:judge"

    def __init__(self, table: dict[tuple[int, int], str]) -> None:
        self.table = table
        self.calls: list[GenerationConfig] = []

    async def complete(
        self, messages: list[ChatMessage], config: GenerationConfig, *, task: Task | None = None
    ) -> Completion:
        self.calls.append(config)
        item = next(i for i in range(10) if f"marker-{i}" in messages[1].content)
        return Completion(text=self.table[(item, config.seed or 0)])

    def describe(self) -> dict[str, object]:
        return {}

    async def aclose(self) -> None:
        return None


async def test_epochs_judge_repeatedly_and_measure_self_agreement() -> None:
    verdict = Verdict(task_id=ROLE_TASK.id, runtime_valid=True, stage=Stage.expectations)
    labels = [
        HumanLabel(
            task_id=ROLE_TASK.id,
            answer=f"{WILDCARD_ANSWER}\nmarker-{i}",
            scores=s,
            passed=p,
            verdict=verdict,
        )
        for i, (s, p) in enumerate(
            [(scores(2, 1, 3, 2), False), (scores(5, 5, 5, 4), True), (scores(3, 3, 3, 3), False)]
        )
    ]
    attempts = resolve_labels(labels, lambda _id: ROLE_TASK)

    def js(*v: int) -> str:
        return json.dumps({"scores": scores(*v), "rationale": "r"})

    judge = ByAnswerAndSeed(
        {
            (0, 1234): js(2, 2, 3, 2),
            (0, 1235): js(2, 2, 3, 2),
            (1, 1234): js(5, 5, 5, 5),
            (1, 1235): js(4, 5, 5, 5),
            (2, 1234): js(3, 3, 3, 3),
            (2, 1235): "garbage",
        }
    )
    items = await judge_labelled(attempts, judge, epochs=2, max_reasks=0)
    assert len(judge.calls) == 6
    report = compute_calibration("scripted:judge", items)
    assert report.epochs == 2 and report.unscored == 1
    intent = next(c for c in report.criteria if c.criterion == "intent")
    # Only the two items scored in both epochs count: intents (2,5) vs (2,4).
    assert intent.self_kappa == pytest.approx(cohen_kappa([2, 5], [2, 4], weights="quadratic"))
    assert intent.self_raw_agreement == pytest.approx(0.5)
    # Human agreement uses the first epoch: intents human (2,5,3) vs judge (2,5,3).
    assert intent.raw_agreement == pytest.approx(1.0)


def test_labels_without_evidence_need_a_run() -> None:
    label = HumanLabel(task_id=ROLE_TASK.id, answer="x", scores=scores(1, 1, 1, 1))
    with pytest.raises(UserError, match="no answer or grader evidence"):
        resolve_labels([label], lambda _id: ROLE_TASK)
