"""`kubebench bench metrics`: figures from labelled answers, and a small real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.cluster.controlplane import ControlPlane
from kubebench.grading.verdict import Stage, Verdict
from kubebench.report.plots import metrics_bench_figure
from kubebench.runner.grading_bench import spread
from kubebench.runner.metrics_bench import (
    labelled_answers,
    metrics_table_markdown,
    roc_auc,
    run_metrics_bench,
    summarize_metrics_bench,
)
from kubebench.scoring.text_metrics import TEXT_METRICS
from kubebench.tasks.authoring.mutations import mutations_for
from kubebench.tasks.authoring.rewrites import REWRITERS
from kubebench.tasks.loader import load_tasks


def test_roc_auc() -> None:
    assert roc_auc([1.0, 0.9], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1], [0.9]) == 0.0
    assert roc_auc([0.5, 0.5], [0.5]) == 0.5  # ties count half
    assert roc_auc([0.9, 0.4], [0.5, 0.1]) == 0.75
    assert roc_auc([], [0.1]) is None


def test_labelled_answers_follow_the_registries() -> None:
    task = load_tasks("test")[0]
    answers = labelled_answers([task])
    rewrites = [a for a in answers if a.correct]
    assert [a.name for a in rewrites] == [name for name, _ in REWRITERS]
    assert [a.name for a in answers if not a.correct] == [m.name for m in mutations_for(task)]


def _verdict(task_id: str, ok: bool) -> Verdict:
    return Verdict(
        task_id=task_id,
        runtime_valid=ok,
        operational_valid=ok,
        stage=Stage.passed if ok else Stage.expectations,
    )


def test_summary_counts_the_grader_and_each_metric() -> None:
    task = next(t for t in load_tasks("test") if len(mutations_for(t)) >= 3)
    answers = labelled_answers([task])
    # The grader gets one rewrite wrong; one answer hits an infrastructure error.
    verdicts = [_verdict(task.id, a.correct) for a in answers]
    verdicts[0] = _verdict(task.id, False)
    verdicts[-1] = verdicts[-1].model_copy(update={"infrastructure_error": "etcd timed out"})
    result = summarize_metrics_bench(answers, verdicts, seconds=1.0)
    kept = len(answers) - 1
    assert result.infrastructure_errors == 1
    assert result.grader_accuracy == pytest.approx((kept - 1) / kept)
    assert [r.name for r in result.rows] == ["KubeBench grader"] + [m.name for m in TEXT_METRICS]
    exact = next(r for r in result.rows if r.name == "exact_match")
    assert exact.mean_incorrect == 0.0  # no mutation equals the reference
    table = metrics_table_markdown(result)
    assert table.count("\n|") == len(result.rows) + 1
    assert "infrastructure errors left out" in table
    json.loads(result.to_json())


@pytest.mark.slow
def test_bench_metrics_on_real_tasks(control_plane: ControlPlane, tmp_path: Path) -> None:
    tasks = spread(load_tasks("test"), 3)
    result = run_metrics_bench(control_plane.connection, tasks)
    assert result.infrastructure_errors == 0
    assert result.grader_accuracy == 1.0, result.by_name
    assert result.rewrites == 3 * len(REWRITERS)
    grader = result.rows[0]
    assert grader.auc == 1.0
    # Text metrics score some correct rewrites below wrong mutations.
    assert any(r.auc is not None and r.auc < 1.0 for r in result.rows[1:])
    for suffix in ("svg", "png"):
        path = tmp_path / f"metrics.{suffix}"
        metrics_bench_figure(
            result.scores, result.rewrites, result.mutations, path, grader=result.grader_scores
        )
        assert path.stat().st_size > 1000


def test_bench_metrics_help() -> None:
    result = CliRunner().invoke(app, ["bench", "metrics", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "ROC" in result.output
