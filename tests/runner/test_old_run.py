"""A run written before scores were stored apart (tests/fixtures/old-run, made by
tests/fixtures/make_old_run.py with the code of that time) is read by `report` and
resumed by `run --resume`: its verdicts and judgements read as scores, nothing of it is
rewritten, and the resume does exactly the attempt it lacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.runner.store import RunStore

FIXTURE = Path(__file__).parents[1] / "fixtures" / "old-run"
JUDGE_A = {"intent": 4, "security": 5, "best_practice": 4, "reasoning": 3}
JUDGE_B = {"intent": 2, "security": 3, "best_practice": 3, "reasoning": 2}


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "old-run"
    shutil.copytree(FIXTURE, run_dir)
    return run_dir


def _overall(scores: dict[str, int]) -> float:
    # A passed attempt: 0.25 + 0.5 + 0.25 * (mean - 1) / 4 (kubebench.judge.score).
    return 0.75 + 0.25 * (sum(scores.values()) / len(scores) - 1) / 4


def test_report_reads_a_run_written_before_scores(old_run: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(old_run), "--format", "json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    data = json.loads(result.stdout)
    assert (data["overall"]["graded"], data["overall"]["success"], data["missing"]) == (3, 3, 1)
    assert data["overall"]["success_ci95"][0] == pytest.approx(0.4385, abs=1e-3)  # Wilson 3/3
    judges = {j["judge_id"]: j for j in data["judges"]}
    assert set(judges) == {"fixture:judge-a", "fixture:judge-b"}
    assert judges["fixture:judge-a"]["criterion_means"] == JUDGE_A
    assert judges["fixture:judge-b"]["mean_overall_score"] == pytest.approx(_overall(JUDGE_B))
    keys = {s["key"] for s in data["scorers"]}
    assert keys == {"grader@1", "judge:fixture:judge-a@1", "judge:fixture:judge-b@1"}
    text = CliRunner().invoke(app, ["report", str(old_run)], terminal_width=200)
    assert text.exit_code == 0 and "judge fixture:judge-a" in text.output


def test_run_resume_continues_a_run_written_before_scores(
    old_run: Path, cluster_args: list[str]
) -> None:
    before = {p.name: p.read_bytes() for p in old_run.iterdir() if p.is_file()}
    result = CliRunner().invoke(app, ["run", "--resume", str(old_run), *cluster_args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "1 attempts to do" in result.stderr
    with RunStore.open(old_run) as store:
        attempts = store.attempts()
        assert len(attempts) == 4 and all(r.success for r in attempts)
        scores = store.scores(attempts)
        assert all("grader@1" in scores[r.attempt_key] for r in attempts)
    # The new attempt's grade is stored as a score; the old ones are read from their verdicts.
    lines = (old_run / "scores.jsonl").read_text().splitlines()
    assert [json.loads(line)["attempt_key"] for line in lines] == [attempts[-1].attempt_key]
    # What the old run wrote is left as it was; only lines were added.
    assert (old_run / "judgements.jsonl").read_bytes() == before["judgements.jsonl"]
    assert (old_run / "run.json").read_bytes() == before["run.json"]
    assert (old_run / "attempts.jsonl").read_bytes().startswith(before["attempts.jsonl"])
    report = CliRunner().invoke(app, ["report", str(old_run), "--format", "json"])
    data = json.loads(report.stdout)
    assert (data["overall"]["graded"], data["missing"]) == (4, 0)
    judges = {j["judge_id"]: j for j in data["judges"]}
    assert judges["fixture:judge-a"]["scored"] == 3  # the new attempt was not judged


async def test_an_old_judge_failure_resumes_without_grading_again(tmp_path: Path) -> None:
    """A record an older run left at stage "judge" keeps its verdict: only the judge runs."""
    from kubebench.models.base import ChatMessage, GenerationConfig
    from kubebench.models.doubles import OracleProvider
    from kubebench.runner.launch import plan_attempts
    from kubebench.runner.pipeline import AttemptPipeline
    from kubebench.scoring.grader import ClusterGrader
    from kubebench.scoring.judge import JudgeScorer
    from tests.judge.doubles import ScriptedJudge
    from tests.runner.records_factory import make_meta, make_record, make_task

    task = make_task("old-judge")
    with RunStore.create(tmp_path / "r", make_meta([task.id])) as store:
        old = make_record(task.id, judgement=None)
        old.infrastructure_error, old.infrastructure_stage = "judge endpoint 503", "judge"
        store.append_attempt(old)
    graded: list[str] = []

    async def grade(task, answer, kube):  # type: ignore[no-untyped-def]
        graded.append(task.id)
        raise AssertionError("graded again")

    reply = json.dumps({"scores": JUDGE_A, "rationale": "ok"})
    store = RunStore.open(tmp_path / "r")
    retry = store.pending_retries()
    planned = plan_attempts([task.id], {task.id: task}, 1, retry_from=retry, scored=store.scores())
    pipeline = AttemptPipeline(
        provider=OracleProvider(),
        generation=GenerationConfig(),
        messages_for=lambda t: [ChatMessage(role="user", content=t.prompt)],
        scorers=[ClusterGrader(grade), JudgeScorer(ScriptedJudge(reply, model_id="j:x"))],  # type: ignore[arg-type]
        kube=None,  # type: ignore[arg-type]
        store_append=store.append_attempt,
        store_score=store.append_score,
    )
    await pipeline.run(planned)
    [rec] = store.attempts()
    assert graded == [] and rec.infrastructure_error is None and rec.success
    judged = store.scores()[rec.attempt_key]["judge:j:x@1"]
    assert judged.value == JUDGE_A and judged.metadata["overall_score"] == _overall(JUDGE_A)
    store.close()
