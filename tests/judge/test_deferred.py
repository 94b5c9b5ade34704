"""Deferred judging of a stored run (the judge as a scorer of `score_run`): resumable,
one judgement per judge, others kept."""

from __future__ import annotations

import json
from pathlib import Path

from kubebench.grading.verdict import Verdict
from kubebench.judge.schema import Judgement
from kubebench.runner.records import AttemptRecord, RunMeta
from kubebench.runner.store import RunStore
from kubebench.scoring.deferred import DeferredScoring, score_run
from kubebench.scoring.judge import JudgeScorer, judge_score_name, judgements_by_attempt
from kubebench.scoring.summary import summarize_scores
from kubebench.tasks.schema import Task
from tests.judge.doubles import ROLE_TASK, WILDCARD_ANSWER, ScriptedJudge, endpoint_down

NAMES = ("intent", "security", "best_practice", "reasoning")


def reply(score: int) -> str:
    return json.dumps({"scores": dict.fromkeys(NAMES, score), "rationale": f"all {score}"})


def make_run(run_dir: Path, verdict: Verdict) -> RunStore:
    store = RunStore.create(run_dir, RunMeta(run_id="r1", model_id="scripted:model"))
    for sample in range(3):
        store.append_attempt(
            AttemptRecord(
                attempt_key=f"{ROLE_TASK.id}#{sample}",
                task_id=ROLE_TASK.id,
                sample=sample,
                model_id="scripted:model",
                answer=WILDCARD_ANSWER,
                verdict=verdict,
            )
        )
    store.append_attempt(
        AttemptRecord(
            attempt_key=f"{ROLE_TASK.id}#9",
            task_id=ROLE_TASK.id,
            sample=9,
            model_id="scripted:model",
            infrastructure_error="apiserver unreachable",
        )
    )
    return store


def task_for(task_id: str) -> Task:
    assert task_id == ROLE_TASK.id
    return ROLE_TASK


async def judge_run(
    store: RunStore, judge: ScriptedJudge, task_for: object, *, concurrency: int = 4, **kw: int
) -> DeferredScoring:
    scorer = JudgeScorer(judge, **kw)  # type: ignore[arg-type]
    return await score_run(store, scorer, task_for, concurrency=concurrency)  # type: ignore[arg-type]


def judge_summary(store: RunStore, judge_id: str):  # type: ignore[no-untyped-def]
    current = store.scores()
    key = f"{judge_score_name(judge_id)}@1"
    [summary] = summarize_scores(by_key[key] for by_key in current.values() if key in by_key)
    return summary


async def test_judging_is_resumable_and_keeps_other_judges(
    tmp_path: Path, failing_verdict: Verdict
) -> None:
    store = make_run(tmp_path / "run", failing_verdict)

    # First judge: one endpoint failure (nothing written for it), two judged.
    first = ScriptedJudge(reply(2), endpoint_down(), reply(2), model_id="a:judge")
    result = await judge_run(store, first, task_for, concurrency=1)
    assert (len(result.scored), len(result.failures), result.not_graded) == (2, 1, 1)
    assert len(store.judgements("a:judge")) == 2

    # Again with the same judge: only the failed attempt is judged.
    again = ScriptedJudge(reply(3), model_id="a:judge")
    result = await judge_run(store, again, task_for)
    assert (len(result.scored), result.already_scored, len(again.calls)) == (1, 2, 1)
    assert len(store.judgements("a:judge")) == 3

    # A second judge judges everything and the first judge's records stay.
    other = ScriptedJudge(reply(4), model_id="b:judge")
    result = await judge_run(store, other, task_for)
    assert len(result.scored) == 3
    reopened = RunStore.open(tmp_path / "run")
    assert len(reopened.judgements("a:judge")) == 3
    assert len(reopened.judgements("b:judge")) == 3
    assert len(reopened.judgements()) == 6

    summary = judge_summary(reopened, "a:judge")
    assert summary.scored == 3
    assert summary.component_means["intent"] == (2 + 2 + 3) / 3


async def test_unscored_judgements_are_written_and_counted_apart(
    tmp_path: Path, failing_verdict: Verdict
) -> None:
    store = make_run(tmp_path / "run", failing_verdict)
    judge = ScriptedJudge("no json here", model_id="c:judge")
    result = await judge_run(store, judge, task_for, max_reasks=1)
    assert len(result.scored) == 3
    assert len(judge.calls) == 6  # one ask and one re-ask per attempt
    summary = judge_summary(store, "c:judge")
    assert (summary.scored, summary.unscored, summary.component_means) == (0, 3, {})
    # Unscored attempts count as judged: resuming asks nothing more.
    assert not (await judge_run(store, judge, task_for)).scored


async def test_judgements_made_during_the_run_count_as_judged(
    tmp_path: Path, failing_verdict: Verdict
) -> None:
    store = RunStore.create(tmp_path / "run", RunMeta(run_id="r2", model_id="scripted:model"))
    inline = Judgement(judge_id="a:judge", scored=True, scores=dict.fromkeys(NAMES, 4))
    for sample, judgement in enumerate([inline, None]):
        store.append_attempt(
            AttemptRecord(
                attempt_key=f"{ROLE_TASK.id}#{sample}",
                task_id=ROLE_TASK.id,
                sample=sample,
                model_id="scripted:model",
                answer=WILDCARD_ANSWER,
                verdict=failing_verdict,
                judge_id="a:judge" if judgement else None,
                judgement=judgement.model_dump(mode="json") if judgement else None,
            )
        )
    judge = ScriptedJudge(reply(2), model_id="a:judge")
    result = await judge_run(store, judge, task_for)
    assert (len(result.scored), result.already_scored, len(judge.calls)) == (1, 1, 1)
    current = judgements_by_attempt(store.scores(), "a:judge")
    assert {key: j.scores["intent"] for key, j in current.items() if j.scores} == {
        f"{ROLE_TASK.id}#0": 4,
        f"{ROLE_TASK.id}#1": 2,
    }
