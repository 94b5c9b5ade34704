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
