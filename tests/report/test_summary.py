"""Run summaries: rates by kind × tier, infrastructure errors apart, pass@k, judge means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.report.summary import summarize
from kubebench.runner.store import RunStore
from tests.runner.records_factory import make_meta, make_record


def test_rates_by_cell_and_infrastructure_errors_counted_apart() -> None:
    records = [
        make_record("a", kind="ConfigMap", tier="basic"),
        make_record("b", success=False, kind="ConfigMap", tier="basic"),
        make_record("c", success=False, runtime_valid=True, kind="Secret", tier="advanced"),
        make_record("d", kind="Secret", tier="advanced"),
        make_record("e", infra="API server unreachable", kind="Secret", tier="basic"),
    ]
    summary = summarize(make_meta(list("abcde")), records)
    assert summary.overall.graded == 4
    assert summary.overall.success_rate == pytest.approx(0.5)
    assert summary.overall.runtime_valid_rate == pytest.approx(0.75)
    assert summary.overall.operational_valid_rate == pytest.approx(0.5)
    assert summary.overall.infrastructure_errors == 1
    assert summary.by_cell[("ConfigMap", "basic")].success_rate == pytest.approx(0.5)
    assert summary.by_cell[("Secret", "advanced")].success == 1
    assert summary.by_cell[("Secret", "basic")].graded == 0
    assert list(summary.by_kind) == ["ConfigMap", "Secret"]  # the Kind enum's order
    assert list(summary.by_tier) == ["basic", "advanced"]
    assert summary.failure_stages == {"dry_run": 1, "expectations": 1}
    assert summary.pass_at_k == {}  # one sample per task


def test_pass_at_k_over_samples() -> None:
    # Task a: 2 of 3 samples pass; task b: 0 of 3.
    outcomes = {"a": [True, False, True], "b": [False, False, False]}
    records = [
        make_record(task, sample, success=ok)
        for task, oks in outcomes.items()
        for sample, ok in enumerate(oks)
    ]
    summary = summarize(make_meta(["a", "b"], samples=3), records)
    # pass@1 = mean(2/3, 0); pass@2 = mean(1 - C(1,2)/C(3,2) = 1, 0); pass@3 = mean(1, 0)
    assert summary.pass_at_k[1] == pytest.approx(1 / 3)
    assert summary.pass_at_k[2] == pytest.approx(0.5)
    assert summary.pass_at_k[3] == pytest.approx(0.5)


def test_judge_criterion_means_skip_unscored() -> None:
    def judged(task: str, scores: dict | None, overall: float | None) -> object:
        judgement = {"judge_id": "openai:j", "scored": scores is not None, "scores": scores}
        return make_record(task, judgement=judgement, overall=overall)

    records = [
        judged("a", {"intent": 5, "security": 3}, 0.9),
        judged("b", {"intent": 3, "security": 1}, 0.5),
        judged("c", None, None),
        make_record("d"),
    ]
    [judge] = summarize(make_meta(list("abcd")), records).judges
    assert (judge.judge_id, judge.scored, judge.unscored) == ("openai:j", 2, 1)
    assert judge.criterion_means == {"intent": 4.0, "security": 2.0}
    assert judge.mean_overall_score == pytest.approx(0.7)


def test_report_command_prints_table_and_json(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with RunStore.create(run_dir, make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b", success=False))
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(run_dir), "--by-kind"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "success rate by kind × tier" in result.output
    assert "50.0 % (1/2)" in result.output
    assert "attempts not yet run" in result.output  # c was planned but never ran

    result = runner.invoke(app, ["report", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["overall"]["success"] == 1
    assert data["missing"] == 1
    assert (data["by_cell"][0]["kind"], data["by_cell"][0]["tier"]) == ("ConfigMap", "basic")


def test_report_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code != 0
    assert "not a kubebench run" in str(result.exception) + result.output


def test_judgements_jsonl_counts_in_the_report_and_the_last_line_wins(tmp_path: Path) -> None:
    from kubebench.judge.schema import Judgement, JudgementRecord
    from kubebench.report.summary import summarize_store

    def line(key: str, score: int) -> JudgementRecord:
        judgement = Judgement(judge_id="openai:later", scored=True, scores={"intent": score})
        return JudgementRecord(attempt_key=key, judge_id="openai:later", judgement=judgement)

    with RunStore.create(tmp_path / "r", make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b", success=False))
        store.append_attempt(make_record("c", infra="API server unreachable"))
        store.append_judgement(line("a#0", 2))
        store.append_judgement(line("a#0", 4))  # re-judged: this one counts
        store.append_judgement(line("b#0", 2))
        store.append_judgement(line("c#0", 5))  # not graded: left out
        [judge] = summarize_store(store).judges
    assert (judge.judge_id, judge.scored, judge.unscored) == ("openai:later", 2, 0)
    assert judge.criterion_means == {"intent": 3.0}
    assert judge.mean_overall_score is None
