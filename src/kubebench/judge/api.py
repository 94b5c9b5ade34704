"""Judging one attempt: ask, parse, re-ask on an unreadable reply, record the cost."""

from __future__ import annotations

from dataclasses import dataclass

from kubebench import defaults
from kubebench.grading.verdict import Verdict
from kubebench.judge.parse import JudgeReplyError, parse_judge_reply
from kubebench.judge.prompt import build_judge_messages, corrective_message
from kubebench.judge.rubric import RUBRIC_VERSION
from kubebench.judge.schema import Judgement
from kubebench.models.base import ChatMessage, GenerationConfig, ModelProvider
from kubebench.tasks.schema import Task


@dataclass(frozen=True)
class JudgePrice:
    """What the judge's endpoint charges, in USD per million tokens."""

    prompt_per_mtok: float
    completion_per_mtok: float

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """The cost of the given token counts, or None when a count is unknown."""
        if prompt_tokens is None or completion_tokens is None:
            return None
        return (
            prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok
        ) / 1_000_000


def judge_generation_config(
    *,
    seed: int = defaults.JUDGE_SEED,
    temperature: float = defaults.JUDGE_TEMPERATURE,
    max_tokens: int = defaults.JUDGE_MAX_TOKENS,
) -> GenerationConfig:
    """The judge's sampling settings: greedy with a fixed seed unless told otherwise."""
    return GenerationConfig(temperature=temperature, seed=seed, max_tokens=max_tokens)


def _add(total: int | None, more: int | None, first: bool) -> int | None:
    # A count the endpoint did not report makes the sum unknown, not smaller.
    if first:
        return more
    return None if total is None or more is None else total + more


async def judge_attempt(
    judge: ModelProvider,
    task: Task,
    answer: str,
    verdict: Verdict,
    *,
    max_reasks: int = defaults.JUDGE_MAX_REASKS,
    config: GenerationConfig | None = None,
    price: JudgePrice | None = None,
) -> Judgement:
    """Score `answer` to `task` with `judge`, given the grader's `verdict`.

    An unreadable reply is re-asked up to `max_reasks` times with a short corrective
    message; if none is readable the judgement is unscored (scored=False, error set),
    never a low score. Endpoint failures raise InfrastructureError from the provider.
    """
    config = config or judge_generation_config()
    messages: list[ChatMessage] = build_judge_messages(task, answer, verdict)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s = 0.0
    problem = ""
    asks = 0
    for asks in range(1, max(0, max_reasks) + 2):
        completion = await judge.complete(messages, config)
        prompt_tokens = _add(prompt_tokens, completion.prompt_tokens, asks == 1)
        completion_tokens = _add(completion_tokens, completion.completion_tokens, asks == 1)
        latency_s += completion.latency_s
        try:
            parsed = parse_judge_reply(completion.text)
        except JudgeReplyError as exc:
            problem = str(exc)
            messages = [
                *messages,
                ChatMessage(role="assistant", content=completion.text),
                corrective_message(problem),
            ]
            continue
        return Judgement(
            judge_id=judge.model_id,
            rubric_version=RUBRIC_VERSION,
            scored=True,
            scores=parsed.scores,
            rationale=parsed.rationale,
            attempts=asks,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency_s,
            cost_usd=price.cost(prompt_tokens, completion_tokens) if price else None,
        )
    return Judgement(
        judge_id=judge.model_id,
        rubric_version=RUBRIC_VERSION,
        scored=False,
        error=f"unparsable judge reply after {asks} asks: {problem}",
        attempts=asks,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency_s,
        cost_usd=price.cost(prompt_tokens, completion_tokens) if price else None,
    )
