"""`kubebench report` without a cluster: the report's data, its formats, bad run folders,
and a run read while another process is writing it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.grading.verdict import ExpectationResult, Stage, Verdict
from kubebench.report.run_reading import read_run, writer_holds_lock
from kubebench.report.run_report import (
    anchor,
    build_report,
    failure_stage,
    first_failing_reason,
)
from kubebench.report.run_views import SECTIONS, render_html, render_markdown
from kubebench.runner.store import RunStore
from tests.runner.records_factory import make_meta, make_record


def _access_failure(task: str) -> object:
    rec = make_record(task, success=False, runtime_valid=True, kind="Role", tier="advanced")
    rec.verdict = Verdict(
        task_id=task,
        runtime_valid=True,
        stage=Stage.expectations,
        reason="1 of 2 expectations failed",
        expectations=[
            ExpectationResult(index=0, kind="object", description="Role r exists", passed=True),
            ExpectationResult(
                index=1,
                kind="access",
                description="User alice cannot delete pods",
                passed=False,
                reason="allowed by Role r",
            ),
        ],
    )
    return rec


@pytest.fixture
def sampled_run(tmp_path: Path) -> Path:
    """4 tasks × 2 samples over two kinds, judged, with one infrastructure error."""
    run_dir = tmp_path / "sampled"
    judgement = {"judge_id": "openai:j", "scored": True, "scores": {"intent": 4, "security": 2}}
    with RunStore.create(run_dir, make_meta(["a", "b", "c", "d"], samples=2)) as store:
        for task in "abcd":
            for sample in range(2):
                ok = task in "ab" or sample == 0
                kind, tier = ("ConfigMap", "basic") if task in "ab" else ("Secret", "advanced")
                rec = make_record(task, sample, success=ok, kind=kind, tier=tier,
                                  judgement=judgement, overall=0.75)  # fmt: skip
                if task == "d" and sample == 1:
                    rec = make_record(task, sample, infra="etcd timed out", kind=kind, tier=tier)
                store.append_attempt(rec)
    return run_dir


def test_failure_stages_and_reasons() -> None:
    assert failure_stage(make_record("a")) is None
    dry = make_record("b", success=False)
    assert failure_stage(dry) == "dry_run"
    assert first_failing_reason(dry) == "ConfigMap settings is missing"
    access = _access_failure("c")
    assert failure_stage(access) == "expectations: access"
    reason = first_failing_reason(access)
    assert "User alice cannot delete pods: allowed by Role r" in reason
    infra = make_record("d", infra="API server unreachable")
    assert failure_stage(infra) == "infrastructure"
    assert "API server unreachable" in first_failing_reason(infra)
    assert anchor("role-advanced-017#2") == "attempt-role-advanced-017-2"


def test_report_data(sampled_run: Path) -> None:
    data = build_report(read_run(sampled_run))
    assert data["status"] == {
        "planned": 8, "recorded": 8, "missing": 0, "graded": 7, "infrastructure_errors": 1,
        "writer_active": False, "store_warnings": [],
    }  # fmt: skip
    success = data["rates"]["success"]
    assert (success["k"], success["n"]) == (6, 7)
    low, high = success["ci95"]
    assert low < 6 / 7 < high
    cells = {(c["kind"], c["tier"]): (c["k"], c["n"]) for c in data["heatmap"]["cells"]}
    assert cells == {("ConfigMap", "basic"): (4, 4), ("Secret", "advanced"): (2, 3)}
    stages = data["failure_stages_by_kind"]["kinds"]
    assert stages["Secret"]["dry_run"] == 1 and stages["Secret"]["infrastructure"] == 1
    # pass@k and pass^k per task: a, b 2/2; c 1/2; d 1/1 (k=2 needs 2 samples).
    pk = {p["k"]: p for p in data["pass_k"]}
    assert pk[1]["pass_at_k"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert pk[2]["pass_at_k"] == pytest.approx(1.0)
    assert pk[2]["pass_hat_k"] == pytest.approx((1 + 1 + 0) / 3)
    [judge] = data["judge_details"]
    assert judge["criteria"]["intent"]["4"] == 7 and judge["criteria"]["security"]["2"] == 7
    assert judge["overall_score_mean"] == pytest.approx(0.75)
    assert judge["overall_score_histogram"]["counts"][7] == 7
    assert [a["attempt_key"] for a in data["failed_attempts"]] == ["c#1", "d#1"]
    assert data["provenance"]["command"].startswith("kubebench run --model scripted:test")
    assert not data["provenance"]["command_recorded"]
    # The keys `kubebench report --json` printed before stay where they were.
    assert data["overall"]["success_rate"] == pytest.approx(6 / 7)
    json.dumps(data)


def test_every_plotted_number_is_in_the_json(sampled_run: Path) -> None:
    data = build_report(read_run(sampled_run))
    html = render_html(data)
    texts = set(re.findall(r"<text[^>]*>([^<]*)</text>", html))
    texts |= {t.strip() for t in re.findall(r"<tspan[^>]*>([^<]*)</tspan>", html)}
    body = " ".join(texts)
    for cell in data["heatmap"]["cells"]:
        assert f"{cell['k']}/{cell['n']}" in body
    for rate in data["rates"].values():
        assert f"({rate['k']}/{rate['n']})" in body
    for point in data["pass_k"]:
        for key in ("pass_at_k", "pass_hat_k"):
            assert f"{100 * point[key]:.0f}%" in body


def test_html_has_every_section_and_no_external_resources(sampled_run: Path) -> None:
    html = render_html(build_report(read_run(sampled_run)))
    for section_id, _ in SECTIONS:
        assert f'<section id="{section_id}">' in html
    assert html.count("<svg") >= 6  # rates, heatmap, failures, pass-k, judge ×2
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert 'id="attempt-c-1"' in html and 'href="#attempt-c-1"' in html


def test_markdown_and_text(sampled_run: Path) -> None:
    md = render_markdown(build_report(read_run(sampled_run)))
    assert "| success (runtime ∧ operational) | 85.7 % (6/7;" in md
    assert "| c#1 | Secret | advanced | dry_run | ConfigMap settings is missing |" in md
    result = CliRunner().invoke(app, ["report", str(sampled_run)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "rates with 95 % Wilson intervals" in result.output
    assert "pass^k" in result.output


def test_report_formats_and_out_file(sampled_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt, marker in (("json", '"schema_version"'), ("md", "## Rates"), ("html", "<svg")):
        target = tmp_path / f"report.{fmt}"
        result = runner.invoke(
            app, ["report", str(sampled_run), "--format", fmt, "--out", str(target)]
        )
        assert result.exit_code == 0, result.output
        assert marker in target.read_text()
    legacy = runner.invoke(app, ["report", str(sampled_run), "--json"])
    assert json.loads(legacy.stdout)["overall"]["graded"] == 7


@pytest.mark.parametrize("command", ["report", "compare", "leaderboard"])
def test_missing_and_foreign_folders_are_one_line_errors(command: str, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "run.json").write_text('{"name": "some other tool"}')
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = CliRunner()
    for folder in (tmp_path / "missing", foreign, empty):
        args = [command, str(folder)] + ([str(folder)] if command == "compare" else [])
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        message = str(result.exception)
        assert "\n" not in message and str(folder) in message, message
    help_text = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert help_text.exit_code == 0 and "Usage" in help_text.output
    # Through the real entry point: a missing argument or a bad --format is a usage
    # error (exit 2), never a traceback.
    for args in ([command], [command, str(tmp_path), "--format", "pdf"]):
        done = subprocess.run(
            [sys.executable, "-m", "kubebench.cli.main", *args], capture_output=True, text=True
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "Error:" in done.stderr


def test_a_run_being_written_is_read_consistently(tmp_path: Path) -> None:
    """A writer holds the lock and appends while reports read: each report sees whole
    attempts only, its figures agree with each other, and the writer is never refused."""
    run_dir = tmp_path / "live"
    keys = [f"t{i}" for i in range(60)]
    release = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with RunStore.create(run_dir, make_meta(keys), lock=True) as writer:
                for i, key in enumerate(keys):
                    writer.append_attempt(make_record(key, success=i % 3 != 0))
                release.wait(30)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    seen = []
    try:
        while not seen or seen[-1] < 60:
            assert thread.is_alive(), errors
            if not (run_dir / "run.json").exists():
                continue
            data = build_report(read_run(run_dir), text_metrics=False)
            recorded = data["status"]["recorded"]
            assert data["status"]["writer_active"] is True
            assert data["rates"]["success"]["n"] == recorded
            assert sum(c["n"] for c in data["heatmap"]["cells"]) == recorded
            assert len(data["attempts"]) == recorded
            assert data["status"]["missing"] == 60 - recorded
            seen.append(recorded)
        # A half-written last line (a writer killed mid-line) is not an attempt.
        with (run_dir / "attempts.jsonl").open("ab") as fh:
            fh.write(b'{"attempt_key": "t99#0", "task_')
        data = build_report(read_run(run_dir), text_metrics=False)
        assert data["status"]["recorded"] == 60
        assert data["status"]["writer_active"] is True
    finally:
        release.set()
        thread.join()
    assert not errors
    assert seen == sorted(seen)
    assert writer_holds_lock(run_dir) is False
    assert build_report(read_run(run_dir), text_metrics=False)["status"]["writer_active"] is False
