"""Reading judge replies: the last valid block wins; anything else is a parse failure."""

from __future__ import annotations

import json

import pytest

from kubebench.judge.parse import JudgeReplyError, parse_judge_reply
from kubebench.judge.rubric import CRITERION_NAMES


def reply(scores: dict[str, object], rationale: str = "ok") -> str:
    return json.dumps({"scores": scores, "rationale": rationale})


GOOD = {"intent": 2, "security": 1, "best_practice": 4, "reasoning": 3}


def test_valid_json_is_parsed_criterion_by_criterion() -> None:
    parsed = parse_judge_reply(reply(GOOD, "wildcard verbs"))
    assert parsed.scores == GOOD
    assert parsed.rationale == "wildcard verbs"


def test_json_after_prose_and_code_fences_is_found() -> None:
    text = "Let me think {not json}.\n```json\n" + reply(GOOD) + "\n```\nDone."
    assert parse_judge_reply(text).scores == GOOD


def test_last_valid_block_wins() -> None:
    first = reply(dict.fromkeys(CRITERION_NAMES, 5), "draft")
    last = reply(GOOD, "final")
    parsed = parse_judge_reply(f"{first}\nOn reflection:\n{last}")
    assert parsed.scores == GOOD
    assert parsed.rationale == "final"


def test_an_invalid_last_block_does_not_hide_an_earlier_valid_one() -> None:
    text = reply(GOOD) + "\n" + json.dumps({"note": "trailing object"})
    assert parse_judge_reply(text).scores == GOOD


@pytest.mark.parametrize(
    ("scores", "problem"),
    [
        ({**GOOD, "intent": 6}, "outside 1-5"),
        ({**GOOD, "security": 0}, "outside 1-5"),
        ({k: v for k, v in GOOD.items() if k != "reasoning"}, '"reasoning" is missing'),
        ({**GOOD, "intent": "4"}, "not an integer"),
        ({**GOOD, "intent": 3.5}, "not an integer"),
        ({**GOOD, "intent": True}, "not an integer"),
    ],
)
def test_out_of_range_missing_or_non_integer_criteria_are_parse_failures(
    scores: dict[str, object], problem: str
) -> None:
    with pytest.raises(JudgeReplyError, match=problem):
        parse_judge_reply(reply(scores))


def test_garbage_is_a_parse_failure() -> None:
    with pytest.raises(JudgeReplyError, match="no JSON object"):
        parse_judge_reply("The answer looks fine to me, 4/5.")


def test_a_reply_without_scores_object_is_a_parse_failure() -> None:
    with pytest.raises(JudgeReplyError, match='no "scores"'):
        parse_judge_reply(json.dumps(GOOD))
