"""Calibration: how far to trust a judge.

Three agreements, each computed per criterion where it applies:
- with human labels: Cohen's kappa, quadratic-weighted for the ordinal 1-5 scores, and
  raw (exact) agreement;
- with the deterministic grader: ROC AUC of the judge's correctness ("intent") score
  separating passed from failed attempts;
- with itself (`epochs` > 1): mean pairwise quadratic kappa across repeated judgings.
The labels file format is documented in docs/judge.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.grading.verdict import Verdict
from kubebench.judge.agreement import cohen_kappa, mean_pairwise_kappa, raw_agreement, roc_auc
from kubebench.judge.api import JudgePrice, judge_attempt, judge_generation_config
from kubebench.judge.rubric import (
    CORRECTNESS_CRITERION,
    CRITERION_NAMES,
    RUBRIC_VERSION,
    SCORE_MAX,
    SCORE_MIN,
)
from kubebench.judge.schema import Judgement
from kubebench.models.base import ModelProvider
from kubebench.tasks.schema import Task

SHIPPED_LABELS = Path(__file__).with_name("data") / "labels-v1.jsonl"


class HumanLabel(BaseModel):
    """One line of a labels file: one attempt and a person's scores for it."""

    model_config = ConfigDict(extra="forbid")

    attempt_key: str | None = None
    task_id: str
    answer: str | None = None  # required unless attempt_key matches a run's attempt
    scores: dict[str, int]  # criterion -> 1..5, every criterion of the rubric
    passed: bool | None = None  # the grader's verdict; taken from `verdict` when absent
    verdict: Verdict | None = None  # the grader's evidence, so the file is self-contained
    task: Task | None = None  # the task itself, so labels outlive task-id changes
    rubric_version: str = RUBRIC_VERSION
    reviewer: str = ""
    note: str = ""

    @field_validator("scores")
    @classmethod
    def _every_criterion(cls, scores: dict[str, int]) -> dict[str, int]:
        missing = [name for name in CRITERION_NAMES if name not in scores]
        if missing:
            raise ValueError(f"missing criteria: {', '.join(missing)}")
        for name, value in scores.items():
            if not SCORE_MIN <= value <= SCORE_MAX:
                raise ValueError(f"{name}={value} is outside {SCORE_MIN}-{SCORE_MAX}")
        return {name: scores[name] for name in CRITERION_NAMES}

    @model_validator(mode="after")
    def _identifies_an_attempt(self) -> HumanLabel:
        if self.attempt_key is None and self.answer is None:
            raise ValueError("a label needs attempt_key or answer")
        return self

    @property
    def key(self) -> str:
        if self.attempt_key:
            return self.attempt_key
        digest = hashlib.sha256((self.answer or "").encode()).hexdigest()[:12]
        return f"{self.task_id}:{digest}"

    def grader_passed(self) -> bool | None:
        if self.passed is not None:
            return self.passed
        return self.verdict.success if self.verdict is not None else None


def load_labels(path: Path) -> list[HumanLabel]:
    """Every label of a JSONL labels file; UserError naming the first bad line."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UserError(f"cannot read labels file {path}: {exc.strerror}") from exc
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(HumanLabel.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.msg
            raise UserError(
                f"{path} line {number} is not a label: {detail}",
                hint="see docs/judge.md for the labels format",
            ) from exc
    if not labels:
        raise UserError(f"{path} holds no labels")
    return labels


@dataclass
class LabelledAttempt:
    """A label resolved against its task, answer and grader evidence."""

    label: HumanLabel
    task: Task
    answer: str
    verdict: Verdict
    passed: bool


@dataclass
class CalibrationItem:
    """One labelled attempt with the judge's judgement from each epoch."""

    key: str
    human: dict[str, int]
    passed: bool | None
    judgements: list[Judgement] = field(default_factory=list)


@dataclass
class CriterionAgreement:
    criterion: str
    pairs: int  # attempts with a human label and a scored judgement
    kappa_quadratic: float | None
    kappa_plain: float | None
    raw_agreement: float | None
    human_mean: float | None
    judge_mean: float | None
    self_kappa: float | None = None  # mean pairwise quadratic kappa across epochs
    self_raw_agreement: float | None = None


@dataclass
class CalibrationReport:
    judge_id: str
    items: int
    epochs: int
    unscored: int  # judgements (all epochs) the judge could not be read on
    criteria: list[CriterionAgreement]
    auc_judge: float | None  # judge's correctness score vs grader's passed
    auc_human: float | None  # the same for the human labels, for reference
    passed: int
    failed: int


def resolve_labels(
    labels: list[HumanLabel],
    task_for: Callable[[str], Task],
    run_attempts: Mapping[str, object] | None = None,
) -> list[LabelledAttempt]:
    """Each label with its task, answer and verdict (from the label, else from the run)."""
    resolved = []
    for label in labels:
        attempt = (run_attempts or {}).get(label.attempt_key or "")
        answer = label.answer if label.answer is not None else getattr(attempt, "answer", None)
        verdict = label.verdict or getattr(attempt, "verdict", None)
        if answer is None or verdict is None:
            raise UserError(
                f"label {label.key} has no answer or grader evidence",
                hint="give the labelled run with --run, or put answer and verdict in the label",
            )
        passed = label.grader_passed()
        resolved.append(
            LabelledAttempt(
                label=label,
                task=label.task or task_for(label.task_id),
                answer=answer,
                verdict=verdict,
                passed=verdict.success if passed is None else passed,
            )
        )
    return resolved


async def judge_labelled(
    attempts: list[LabelledAttempt],
    judge: ModelProvider,
    *,
    epochs: int = 1,
    existing: Mapping[str, Judgement] | None = None,
    concurrency: int = defaults.JUDGE_CONCURRENCY,
    max_reasks: int = defaults.JUDGE_MAX_REASKS,
    temperature: float = defaults.JUDGE_TEMPERATURE,
    max_tokens: int = defaults.JUDGE_MAX_TOKENS,
    price: JudgePrice | None = None,
    on_judged: Callable[[], None] | None = None,
) -> list[CalibrationItem]:
    """Judge every labelled attempt `epochs` times (epoch e uses seed JUDGE_SEED + e).

    A judgement in `existing` (by attempt key, e.g. from the run store) stands for the
    first epoch, so calibrating a judged run re-judges nothing unless asked for epochs.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    items = [
        CalibrationItem(key=a.label.key, human=a.label.scores, passed=a.passed) for a in attempts
    ]
    slots: list[list[Judgement | None]] = [[None] * epochs for _ in attempts]

    async def one(i: int, epoch: int) -> None:
        attempt = attempts[i]
        if epoch == 0 and existing and attempt.label.key in existing:
            slots[i][0] = existing[attempt.label.key]
        else:
            config = judge_generation_config(
                seed=defaults.JUDGE_SEED + epoch, temperature=temperature, max_tokens=max_tokens
            )
            async with gate:
                slots[i][epoch] = await judge_attempt(
                    judge,
                    attempt.task,
                    attempt.answer,
                    attempt.verdict,
                    max_reasks=max_reasks,
                    config=config,
                    price=price,
                )
        if on_judged:
            on_judged()

    await asyncio.gather(*(one(i, e) for i in range(len(attempts)) for e in range(epochs)))
    for item, judged in zip(items, slots, strict=True):
        item.judgements = [j for j in judged if j is not None]
    return items


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def compute_calibration(judge_id: str, items: list[CalibrationItem]) -> CalibrationReport:
    """Agreement of the judge with the humans, the grader and itself, from judged items."""
    epochs = max((len(item.judgements) for item in items), default=0)
    unscored = sum(1 for item in items for j in item.judgements if not j.scored)
    criteria = []
    for name in CRITERION_NAMES:
        human, judged = [], []
        for item in items:
            first = item.judgements[0] if item.judgements else None
            if first is not None and first.scored and first.scores:
                human.append(item.human[name])
                judged.append(first.scores[name])
        agreement = CriterionAgreement(
            criterion=name,
            pairs=len(human),
            kappa_quadratic=cohen_kappa(human, judged, weights="quadratic"),
            kappa_plain=cohen_kappa(human, judged),
            raw_agreement=raw_agreement(human, judged),
            human_mean=_mean(human),
            judge_mean=_mean(judged),
        )
        if epochs > 1:
            # Only attempts scored in every epoch can be compared across epochs.
            runs: list[list[int]] = [[] for _ in range(epochs)]
            for item in items:
                if len(item.judgements) == epochs and all(j.scored for j in item.judgements):
                    for e, j in enumerate(item.judgements):
                        runs[e].append((j.scores or {})[name])
            agreement.self_kappa = mean_pairwise_kappa(runs)
            pair_raw = [
                r
                for a in range(epochs)
                for b in range(a + 1, epochs)
                if (r := raw_agreement(runs[a], runs[b])) is not None
            ]
            agreement.self_raw_agreement = sum(pair_raw) / len(pair_raw) if pair_raw else None
        criteria.append(agreement)

    judge_scores, judge_passed, human_scores, human_passed = [], [], [], []
    for item in items:
        if item.passed is None:
            continue
        human_scores.append(item.human[CORRECTNESS_CRITERION])
        human_passed.append(item.passed)
        first = item.judgements[0] if item.judgements else None
        if first is not None and first.scored and first.scores:
            judge_scores.append(first.scores[CORRECTNESS_CRITERION])
            judge_passed.append(item.passed)
    return CalibrationReport(
        judge_id=judge_id,
        items=len(items),
        epochs=epochs,
        unscored=unscored,
        criteria=criteria,
        auc_judge=roc_auc(judge_scores, judge_passed),
        auc_human=roc_auc(human_scores, human_passed),
        passed=sum(1 for p in human_passed if p),
        failed=sum(1 for p in human_passed if not p),
    )
