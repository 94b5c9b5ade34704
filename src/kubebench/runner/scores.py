"""A run's scores as one history: scores.jsonl, plus what runs written before it kept
elsewhere, read as scores (a migration on read; nothing is rewritten).

Older runs kept the grader's verdict in each attempt record, a judgement made during
`kubebench run --judge` inline in the record (`judgement`, `overall_score`), and
judgements made later by `kubebench judge` in judgements.jsonl. Read here, in this
order, ahead of scores.jsonl (so a newer score of the same name and version wins):
- the grader's score of each current attempt whose grading finished (a judge failure
  after it included) that scores.jsonl has none for;
- each inline judgement, dated by its attempt's `finished_at`;
- each judgements.jsonl line, with the overall score computed from the attempt's verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from kubebench.runner.records import AttemptRecord
from kubebench.scoring.base import ScoreRecord
from kubebench.scoring.grader import GRADER_NAME, verdict_score


def legacy_score_records(
    history: Iterable[AttemptRecord],
    current: Iterable[AttemptRecord],
    judgement_lines: Iterable[dict[str, Any]],
    graded_in_scores: set[str],
) -> list[ScoreRecord]:
    """The scores an older run holds outside scores.jsonl (see the module docstring).

    `graded_in_scores`: attempt keys whose grader score scores.jsonl already holds."""
    from kubebench.judge.schema import Judgement
    from kubebench.judge.score import overall_score
    from kubebench.scoring.judge import judgement_score

    out: list[ScoreRecord] = []
    verdicts = {}
    for rec in current:
        if grading_finished(rec):
            assert rec.verdict is not None
            verdicts[rec.attempt_key] = rec.verdict
            if rec.attempt_key not in graded_in_scores:
                score = verdict_score(rec.verdict)
                out.append(
                    ScoreRecord(
                        attempt_key=rec.attempt_key, score=score, created_at=rec.finished_at
                    )
                )
    for rec in history:
        if not rec.judgement:
            continue
        try:
            judgement = Judgement.model_validate(
                {"judge_id": rec.judge_id or "judge", **rec.judgement}
            )
        except ValidationError:
            continue
        score = judgement_score(judgement, rec.overall_score)
        out.append(
            ScoreRecord(attempt_key=rec.attempt_key, score=score, created_at=rec.finished_at)
        )
    for line in judgement_lines:
        key, data = str(line.get("attempt_key")), line.get("judgement")
        if not isinstance(data, dict):
            continue
        judge_id = str(line.get("judge_id") or data.get("judge_id") or "judge")
        try:
            judgement = Judgement.model_validate({**data, "judge_id": judge_id})
        except ValidationError:
            continue
        verdict = verdicts.get(key)
        overall = overall_score(verdict, judgement) if verdict is not None else None
        score = judgement_score(judgement, overall)
        created = str(line.get("created_at") or "")
        out.append(ScoreRecord(attempt_key=key, score=score, created_at=created))
    return out


def grading_finished(rec: AttemptRecord) -> bool:
    """True when the record holds a verdict the grader reached (not one cut short by
    an infrastructure error)."""
    if rec.verdict is None or rec.verdict.infrastructure_error:
        return False
    return rec.infrastructure_stage != "grading" and rec.infrastructure_scorer != GRADER_NAME


def is_grader_line(rec: ScoreRecord) -> bool:
    return rec.score.name == GRADER_NAME
