"""`kubebench run`'s scorers on the real control plane: the grader, a judge and a text
metric named in run.json score each attempt, their scores land in scores.jsonl, and the
report reads them from there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebench.cluster.kubeconfig import Connection
from kubebench.report.run_reading import read_run
from kubebench.report.run_report import build_report
from kubebench.runner.launch import RunRequest, execute_run, prepare_run
from kubebench.scoring.judge import JudgeScorer
from kubebench.tasks.selection import TaskSelection
from tests.judge.doubles import ScriptedJudge

SCORES = {"intent": 5, "security": 4, "best_practice": 5, "reasoning": 3}
TASKS = ("configmap-basic-001", "role-basic-001")


async def test_grader_judge_and_text_metric_score_a_run(
    tmp_path: Path, connection: Connection
) -> None:
    request = RunRequest(
        model_id="oracle",
        selection=TaskSelection(task_ids=TASKS),
        scorers=("exact_match",),
        out_dir=tmp_path,
        run_id="scored",
    )
    prepared = prepare_run(request)
    assert prepared.meta.scorers == ["grader", "exact_match"]
    reply = json.dumps({"scores": SCORES, "rationale": "fine"})
    prepared.scorers.append(JudgeScorer(ScriptedJudge(reply, model_id="j:x")))  # type: ignore[arg-type]
    store = await execute_run(prepared, connection)
    store.close()

    lines = [json.loads(x) for x in (tmp_path / "scored" / "scores.jsonl").read_text().splitlines()]
    names = sorted((line["attempt_key"], line["score"]["name"]) for line in lines)
    assert names == sorted(
        (f"{task}#0", name) for task in TASKS for name in ("grader", "exact_match", "judge:j:x")
    )
    data = build_report(read_run(tmp_path / "scored"), text_metrics=False)
    assert data["overall"]["success"] == 2
    scorers = {s["key"]: s for s in data["scorers"]}
    assert scorers["exact_match@1"]["mean"] == 1.0  # the oracle answers the reference
    assert scorers["grader@1"]["component_means"]["success"] == 1.0
    [judge] = data["judge_details"]
    assert judge["criterion_means"] == SCORES
    # 0.25 + 0.5 + 0.25 * (mean 4.25 - 1) / 4
    assert judge["overall_score_mean"] == pytest.approx(0.953125)
    assert all(a["overall_score"] == pytest.approx(0.953125) for a in data["attempts"])
