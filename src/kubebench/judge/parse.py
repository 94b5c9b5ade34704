"""Reading a judge's reply: the last valid JSON block wins.

A block is valid when it holds a `scores` object with every rubric criterion as an
integer 1-5 (unknown extra keys are ignored) and, optionally, a string `rationale`.
Anything else in the reply (prose, code fences, earlier drafts) is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubebench.judge.rubric import CRITERION_NAMES, SCORE_MAX, SCORE_MIN

MAX_RATIONALE_CHARS = 1000


@dataclass(frozen=True)
class ParsedJudgement:
    scores: dict[str, int]
    rationale: str


class JudgeReplyError(ValueError):
    """The reply holds no valid judgement; the message says what was wrong, for the re-ask."""


def _json_objects(text: str) -> list[object]:
    """Every top-level JSON value that starts with '{' in `text`, in order."""
    decoder = json.JSONDecoder()
    found: list[object] = []
    pos = text.find("{")
    while pos != -1:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        found.append(value)
        pos = text.find("{", end)
    return found


def validate_block(block: object) -> ParsedJudgement:
    """One decoded JSON value as a judgement, or JudgeReplyError saying what is wrong."""
    if not isinstance(block, dict):
        raise JudgeReplyError("the JSON is not an object")
    scores = block.get("scores")
    if not isinstance(scores, dict):
        raise JudgeReplyError('the object has no "scores" object')
    checked: dict[str, int] = {}
    for name in CRITERION_NAMES:
        if name not in scores:
            raise JudgeReplyError(f'criterion "{name}" is missing')
        value = scores[name]
        # bool is an int in Python; true/false is not a score.
        if isinstance(value, bool) or not isinstance(value, int):
            raise JudgeReplyError(f'criterion "{name}" is {value!r}, not an integer')
        if not SCORE_MIN <= value <= SCORE_MAX:
            raise JudgeReplyError(f'criterion "{name}" is {value}, outside {SCORE_MIN}-{SCORE_MAX}')
        checked[name] = value
    rationale = block.get("rationale", "")
    if not isinstance(rationale, str):
        raise JudgeReplyError('"rationale" is not a string')
    return ParsedJudgement(scores=checked, rationale=rationale.strip()[:MAX_RATIONALE_CHARS])


def parse_judge_reply(text: str) -> ParsedJudgement:
    """The last valid judgement block in `text`; JudgeReplyError when there is none.

    The error names the problem of the last block seen (or that there was no JSON), so a
    re-ask can tell the judge what to fix.
    """
    blocks = _json_objects(text)
    if not blocks:
        raise JudgeReplyError("no JSON object was found")
    last_problem: JudgeReplyError | None = None
    for block in reversed(blocks):
        try:
            return validate_block(block)
        except JudgeReplyError as exc:
            last_problem = last_problem or exc
    assert last_problem is not None
    raise last_problem
