"""One store for scores: scores.jsonl, the latest score of a name and version wins and
older ones stay for audit, and what older runs kept elsewhere reads as scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebench.judge.schema import Judgement
from kubebench.runner.store import RunStore
from kubebench.scoring.base import Score, ScoreRecord
from kubebench.scoring.judge import judgement_score
from kubebench.scoring.summary import current_scores, summarize_scores
from tests.runner.records_factory import make_meta, make_record


def _judgement(score: int, judge_id: str = "openai:j") -> Judgement:
    return Judgement(judge_id=judge_id, scored=True, scores={"intent": score, "security": score})


def test_the_latest_score_of_a_name_and_version_wins_and_older_ones_stay(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a"])) as store:
        store.append_attempt(make_record("a"))
        for value, version in ((0.2, "1"), (0.4, "1"), (0.9, "2")):
            score = Score(name="toy", version=version, value=value)
            store.append_score(ScoreRecord(attempt_key="a#0", score=score))
    store = RunStore.open(tmp_path / "r")
    current = store.scores()["a#0"]
    assert current["toy@1"].value == 0.4  # re-scored: the later line wins
    assert current["toy@2"].value == 0.9  # another version is another scorer
    assert current["grader@1"].value == {
        "success": True,
        "runtime_valid": True,
        "operational_valid": True,
    }
    toy_lines = [r.score.value for r in store.score_history() if r.score.name == "toy"]
    assert toy_lines == [0.2, 0.4, 0.9]  # nothing thrown away


def test_an_older_runs_judgements_read_as_scores(tmp_path: Path) -> None:
    """Inline judgements (run --judge) and judgements.jsonl (kubebench judge) of a run
    written before scores.jsonl, and a newer score of the same judge that wins."""
    run_dir = tmp_path / "r"
    inline = _judgement(2).model_dump(mode="json")
    with RunStore.create(run_dir, make_meta(["a", "b"])) as store:
        store.append_attempt(make_record("a", judgement=inline, overall=0.8125))
        store.append_attempt(make_record("b", success=False))
    line = {
        "attempt_key": "b#0",
        "judge_id": "openai:j",
        "created_at": "2026-11-28T00:10:00Z",
        "judgement": _judgement(5).model_dump(mode="json"),
    }
    (run_dir / "judgements.jsonl").write_text(json.dumps(line) + "\n")

    store = RunStore.open(run_dir)
    current = store.scores()
    assert current["a#0"]["judge:openai:j@1"].value == {"intent": 2, "security": 2}
    assert current["a#0"]["judge:openai:j@1"].metadata["overall_score"] == 0.8125
    later = current["b#0"]["judge:openai:j@1"]
    # Computed on read from b's verdict (failed, runtime invalid): 0.25 * (5 - 1) / 4.
    assert later.metadata["overall_score"] == pytest.approx(0.25)

    store.append_score(ScoreRecord(attempt_key="a#0", score=judgement_score(_judgement(4), 0.9)))
    assert store.scores()["a#0"]["judge:openai:j@1"].value == {"intent": 4, "security": 4}
    assert (run_dir / "judgements.jsonl").read_text() == json.dumps(line) + "\n"  # as it was
    [judge] = summarize_scores(by_key["judge:openai:j@1"] for by_key in store.scores().values())
    assert judge.component_means == {"intent": 4.5, "security": 4.5}


def test_unscored_scores_are_counted_apart() -> None:
    records = [
        ScoreRecord(attempt_key=key, score=Score(name="m", version="1", value=value))
        for key, value in (("a", 1.0), ("b", None), ("c", 0.0), ("c", 0.5))
    ]
    [summary] = summarize_scores(
        s for by_key in current_scores(records).values() for s in by_key.values()
    )
    assert (summary.scored, summary.unscored, summary.mean) == (2, 1, 0.75)
