"""`kubebench judge RUN_DIR` and `kubebench judge calibrate` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from kubebench.cli import judge as judge_cli
from kubebench.cli.main import app
from kubebench.grading.verdict import Verdict
from kubebench.runner.store import RunStore
from kubebench.tasks.schema import Task
from tests.judge.doubles import ROLE_TASK, WILDCARD_ANSWER, ScriptedJudge
from tests.judge.test_deferred import make_run

REPLY = json.dumps(
    {
        "scores": {"intent": 2, "security": 1, "best_practice": 4, "reasoning": 3},
        "rationale": "wildcard verbs",
    }
)


class RoleTaskOnly(dict[str, Task]):
    def __missing__(self, task_id: str) -> Task:
        assert task_id == ROLE_TASK.id
        return ROLE_TASK


@pytest.fixture
def scripted_cli(monkeypatch: pytest.MonkeyPatch) -> list[ScriptedJudge]:
    made: list[ScriptedJudge] = []

    def create(judge_id: str) -> ScriptedJudge:
        made.append(ScriptedJudge(REPLY, model_id=judge_id))
        return made[-1]

    monkeypatch.setattr(judge_cli, "_create_judge", create)
    # Wide enough that table headers are not wrapped.
    monkeypatch.setattr(judge_cli, "out", Console(width=200))
    monkeypatch.setattr(judge_cli, "_TaskLookup", RoleTaskOnly)
    return made


def test_judge_run_prints_means_and_resumes(
    tmp_path: Path, failing_verdict: Verdict, scripted_cli: list[ScriptedJudge]
) -> None:
    run_dir = tmp_path / "run"
    make_run(run_dir, failing_verdict).close()
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "judge",
            str(run_dir),
            "--judge",
            "x:judge",
            "--price-prompt",
            "1",
            "--price-completion",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "judged 3 attempt(s) now" in result.output
    assert "Correctness of intent" in result.output and "2.00" in result.output
    assert "Security and least privilege" in result.output and "1.00" in result.output
    assert "scored 3, unscored 0" in result.output
    # overall = 0.25*1 + 0.5*0 + 0.25*((2+1+4+3)/4 - 1)/4 = 0.34375
    assert "overall score v1 0.344 over 3 attempt(s)" in result.output
    assert "cost $" in result.output

    again = runner.invoke(app, ["judge", "run", str(run_dir), "--judge", "x:judge"])
    assert again.exit_code == 0, again.output
    assert "judged 0 attempt(s) now; 3 already judged" in again.output
    assert len(scripted_cli[1].calls) == 0
    assert len(RunStore.open(run_dir).judgements("x:judge")) == 3


def test_calibrate_prints_kappa_and_auc(
    tmp_path: Path, failing_verdict: Verdict, scripted_cli: list[ScriptedJudge]
) -> None:
    labels = tmp_path / "labels.jsonl"
    lines = []
    for i, (intent, passed) in enumerate([(2, False), (3, False), (5, True)]):
        verdict = (
            failing_verdict
            if not passed
            else failing_verdict.model_copy(update={"operational_valid": True})
        )
        lines.append(
            json.dumps(
                {
                    "task_id": ROLE_TASK.id,
                    "answer": f"{WILDCARD_ANSWER}\n# variant {i}",
                    "scores": {"intent": intent, "security": 1, "best_practice": 4, "reasoning": 3},
                    "verdict": verdict.model_dump(mode="json"),
                }
            )
        )
    labels.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        app, ["judge", "calibrate", "--labels", str(labels), "--judge", "x:judge"]
    )
    assert result.exit_code == 0, result.output
    assert "kappa (quadratic)" in result.output
    # The scripted judge always says intent 2: no separation of passed from failed.
    # passed (2) vs failed (2, 2): ties -> AUC 0.5.
    assert "= 0.500 (1 passed, 2 failed" in result.output
    assert "unscored judgements: 0 of 3" in result.output


def test_bad_labels_file_is_a_user_error(tmp_path: Path, scripted_cli: list[ScriptedJudge]) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"task_id": "x"}\n')
    result = CliRunner().invoke(app, ["judge", "calibrate", "--labels", str(labels)])
    assert result.exit_code != 0
    assert "line 1 is not a label" in str(result.exception)
