"""Deferred judging of a stored run: resumable, one judgement per judge, others kept."""

from __future__ import annotations

import json
from pathlib import Path

from kubebench.grading.verdict import Verdict
from kubebench.judge.deferred import judge_run, judgements_by_attempt
from kubebench.judge.schema import Judgement
from kubebench.judge.summary import summarize_judgements
from kubebench.runner.records import AttemptRecord, RunMeta
from kubebench.runner.store import RunStore
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


async def test_judging_is_resumable_and_keeps_other_judges(
    tmp_path: Path, failing_verdict: Verdict
) -> None:
    store = make_run(tmp_path / "run", failing_verdict)

    # First judge: one endpoint failure (nothing written for it), two judged.
    first = ScriptedJudge(reply(2), endpoint_down(), reply(2), model_id="a:judge")
    result = await judge_run(store, first, task_for, concurrency=1)
    assert (len(result.judged), len(result.failures), result.not_graded) == (2, 1, 1)
    assert len(store.judgements("a:judge")) == 2

    # Again with the same judge: only the failed attempt is judged.
    again = ScriptedJudge(reply(3), model_id="a:judge")
    result = await judge_run(store, again, task_for)
    assert (len(result.judged), result.already_judged, len(again.calls)) == (1, 2, 1)
    assert len(store.judgements("a:judge")) == 3

    # A second judge judges everything and the first judge's records stay.
    other = ScriptedJudge(reply(4), model_id="b:judge")
    result = await judge_run(store, other, task_for)
    assert len(result.judged) == 3
    reopened = RunStore.open(tmp_path / "run")
    assert len(reopened.judgements("a:judge")) == 3
    assert len(reopened.judgements("b:judge")) == 3
    assert len(reopened.judgements()) == 6

    summary = summarize_judgements(rec.judgement for rec in reopened.judgements("a:judge"))
    assert summary.scored == 3
    assert summary.means["intent"] == (2 + 2 + 3) / 3


async def test_unscored_judgements_are_written_and_counted_apart(
    tmp_path: Path, failing_verdict: Verdict
) -> None:
    store = make_run(tmp_path / "run", failing_verdict)
    judge = ScriptedJudge("no json here", model_id="c:judge")
    result = await judge_run(store, judge, task_for, max_reasks=1)
    assert len(result.judged) == 3
    assert len(judge.calls) == 6  # one ask and one re-ask per attempt
    summary = summarize_judgements(rec.judgement for rec in store.judgements("c:judge"))
    assert (summary.scored, summary.unscored, summary.means) == (0, 3, {})
    # Unscored attempts count as judged: resuming asks nothing more.
    assert not (await judge_run(store, judge, task_for)).judged


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
    assert (len(result.judged), result.already_judged, len(judge.calls)) == (1, 1, 1)
    current = judgements_by_attempt(store, "a:judge")
    assert {key: j.scores["intent"] for key, j in current.items() if j.scores} == {
        f"{ROLE_TASK.id}#0": 4,
        f"{ROLE_TASK.id}#1": 2,
    }
