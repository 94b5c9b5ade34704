"""The LLM judge as a scorer: `judge:PROVIDER:MODEL`.

Its value is the criterion scores (1-5) or None when the reply could not be read; its
metadata is the whole `Judgement` (rationale, asks, tokens, latency, cost) and the
overall score computed with the grader's verdict (kubebench.judge.score).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.judge.api import JudgePrice, judge_attempt, judge_generation_config
from kubebench.judge.rubric import RUBRIC_VERSION
from kubebench.judge.schema import Judgement
from kubebench.judge.score import OVERALL_SCORE_VERSION, overall_score
from kubebench.models.base import GenerationConfig, ModelProvider
from kubebench.scoring.base import Attempt, Score, ScoringContext, score_key
from kubebench.tasks.schema import Task

JUDGE_PREFIX = "judge:"


def judge_score_name(judge_id: str) -> str:
    """The score name of a judge model: each judge is its own scorer."""
    return f"{JUDGE_PREFIX}{judge_id}"


def is_judge_score(name: str) -> bool:
    return name.startswith(JUDGE_PREFIX)


def judgement_score(
    judgement: Judgement, overall: float | None, *, created_by: str | None = None
) -> Score:
    """A judgement as a Score (also how judgements of older runs are read)."""
    metadata: dict[str, Any] = judgement.model_dump(mode="json")
    metadata["overall_score"] = overall
    metadata["overall_score_version"] = OVERALL_SCORE_VERSION
    return Score(
        name=judge_score_name(created_by or judgement.judge_id),
        version=judgement.rubric_version,
        value=dict(judgement.scores) if judgement.scored and judgement.scores else None,
        explanation=judgement.rationale if judgement.scored else (judgement.error or ""),
        metadata=metadata,
    )


def score_judgement(score: Score) -> Judgement:
    """The `Judgement` a judge's Score holds."""
    fields = {k: v for k, v in score.metadata.items() if k in Judgement.model_fields}
    return Judgement.model_validate(fields)


class JudgeScorer:
    """Scores an attempt with a judge model against the versioned rubric."""

    version = RUBRIC_VERSION
    needs_cluster = False
    needs_verdict = True

    def __init__(
        self,
        provider: ModelProvider,
        *,
        max_reasks: int = defaults.JUDGE_MAX_REASKS,
        config: GenerationConfig | None = None,
        price: JudgePrice | None = None,
    ) -> None:
        self.provider = provider
        self.name = judge_score_name(provider.model_id)
        self.max_reasks = max_reasks
        self.config = config or judge_generation_config()
        self.price = price

    async def score(self, task: Task, attempt: Attempt, context: ScoringContext) -> Score:
        verdict = context.verdict
        if verdict is None:
            raise UserError(f"{self.name} needs the grader's verdict of {attempt.attempt_key}")
        judgement = await judge_attempt(
            self.provider,
            task,
            attempt.answer,
            verdict,
            max_reasks=self.max_reasks,
            config=self.config,
            price=self.price,
        )
        return judgement_score(judgement, overall_score(verdict, judgement))

    async def aclose(self) -> None:
        await self.provider.aclose()


def create_judge(argument: str) -> JudgeScorer:
    """The registry's factory for `judge:PROVIDER:MODEL`."""
    if not argument:
        raise UserError("the judge scorer needs a model", hint="--scorer judge:openai:gpt-4o")
    from kubebench.models.registry import create_provider

    return JudgeScorer(create_provider(argument))


def judgements_by_attempt(
    scores: Mapping[str, Mapping[str, Score]], judge_id: str
) -> dict[str, Judgement]:
    """This judge's current judgement of each attempt (under today's rubric), from a
    store's current scores (`RunStore.scores()`)."""
    key = score_key(judge_score_name(judge_id), RUBRIC_VERSION)
    return {
        attempt: score_judgement(by_key[key]) for attempt, by_key in scores.items() if key in by_key
    }
