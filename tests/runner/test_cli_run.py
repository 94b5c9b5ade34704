"""`kubebench run` end to end on the real control plane and the shipped test split:
the oracle scores 100 %, a SIGKILLed run resumes to exactly the planned attempts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.cluster.client import KubeClient
from kubebench.runner.store import RunStore


def _kubebench(*args: str) -> list[str]:
    return [sys.executable, "-m", "kubebench.cli.main", *args]


def test_oracle_run_scores_every_attempt(tmp_path: Path, cluster_args: list[str]) -> None:
    runner = CliRunner()
    args = ["run", "--model", "oracle", "--stratified", "1", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--run-id", "oracle", *cluster_args], terminal_width=200)
    assert result.exit_code == 0, result.output + repr(result.exception)
    store = RunStore.open(tmp_path / "oracle")
    records = store.attempts()
    assert len(records) == store.meta.planned_attempts == len(store.meta.task_ids)
    assert len({(r.category, r.tier) for r in records}) == 24  # one task per cell
    failed = [
        (r.task_id, r.verdict.reason if r.verdict else r.infrastructure_error)
        for r in records
        if not r.success
    ]
    assert failed == []
    assert store.meta.kubernetes_version and store.meta.task_set_hash
    assert "100.0 %" in result.output

    report = runner.invoke(app, ["report", str(tmp_path / "oracle"), "--json"])
    data = json.loads(report.stdout)
    assert data["overall"]["success_rate"] == 1.0
    assert data["overall"]["infrastructure_errors"] == 0


def test_resume_refuses_plan_flags(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--resume", str(tmp_path), "--limit", "3"])
    assert result.exit_code != 0
    assert "--limit" in str(result.exception)


@pytest.mark.slow
def test_sigkill_then_resume_finishes_each_attempt_once(
    tmp_path: Path, cluster_args: list[str]
) -> None:
    run_dir = tmp_path / "killed"
    planned = 48
    cmd = _kubebench(
        "run", "--model", "oracle", "--stratified", "2", "--out", str(tmp_path),
        "--run-id", "killed", "--concurrency", "1", "--grading-concurrency", "1", *cluster_args,
    )  # fmt: skip
    env = os.environ | {"COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    attempts = run_dir / "attempts.jsonl"
    deadline = time.monotonic() + 120
    lines = 0
    while time.monotonic() < deadline and proc.poll() is None:
        lines = attempts.read_bytes().count(b"\n") if attempts.exists() else 0
        if lines >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = RunStore.open(run_dir).finished_keys()
    assert 5 <= len(done_before) < planned  # really killed halfway

    result = subprocess.run(
        _kubebench("run", "--resume", str(run_dir), *cluster_args),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    store = RunStore.open(run_dir)
    assert store.meta.planned_attempts == planned
    keys = Counter(json.loads(line)["attempt_key"] for line in attempts.read_text().splitlines())
    assert sum(keys.values()) == planned
    assert max(keys.values()) == 1  # nothing graded twice
    assert {f"{tid}#0" for tid in store.meta.task_ids} == set(keys)
    assert all(r.success for r in store.attempts())
    # What finished before the kill was neither re-generated nor re-graded.
    first_lines = attempts.read_text().splitlines()[: len(done_before)]
    assert {json.loads(line)["attempt_key"] for line in first_lines} == done_before


def test_external_cluster_needs_the_opt_in(tmp_path: Path, cluster_args: list[str]) -> None:
    kubeconfig = cluster_args[cluster_args.index("--kubeconfig") + 1]
    args = ["run", "--model", "oracle", "--limit", "1", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--kubeconfig", kubeconfig])
    assert result.exit_code != 0
    assert "refusing to write" in str(result.exception)
    assert not any(tmp_path.iterdir())  # nothing was written


def test_resume_of_a_finished_run_does_nothing(tmp_path: Path, cluster_args: list[str]) -> None:
    runner = CliRunner()
    args = ["run", "--model", "oracle", "--limit", "2", "--out", str(tmp_path), "--run-id", "r"]
    assert runner.invoke(app, [*args, *cluster_args]).exit_code == 0
    before = (tmp_path / "r" / "attempts.jsonl").read_bytes()
    result = runner.invoke(app, ["run", "--resume", str(tmp_path / "r")])  # no cluster needed
    assert result.exit_code == 0, repr(result.exception)
    assert "nothing left to run" in result.output
    assert (tmp_path / "r" / "attempts.jsonl").read_bytes() == before


@pytest.mark.slow
async def test_ctrl_c_stops_cleanly_and_leaves_no_task_objects(
    tmp_path: Path, cluster_args: list[str], kube: KubeClient
) -> None:
    run_dir = tmp_path / "interrupted"
    cmd = _kubebench(
        "run", "--model", "oracle", "--kind", "Namespace", "--out", str(tmp_path),
        "--run-id", "interrupted", "--grading-concurrency", "4", *cluster_args,
        "--samples", "4",  # 408 attempts: a quiet machine must not finish before the signal
    )  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    attempts = run_dir / "attempts.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if attempts.exists() and attempts.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert f"kubebench run --resume {run_dir}" in stderr
    store = RunStore.open(run_dir)
    assert 3 <= len(store.attempts()) < store.meta.planned_attempts
    # Every namespace an attempt created is gone or on its way out.
    from kubebench.tasks.loader import get_task

    created = {
        doc["metadata"]["name"]
        for tid in store.meta.task_ids
        for doc in [*get_task(tid).setup]
        if doc.get("kind") == "Namespace"
    }
    active = {
        ns["metadata"]["name"]
        for ns in await kube.list("v1", "Namespace")
        if ns.get("status", {}).get("phase") == "Active"
    }
    assert not (created & active)


def test_off_a_terminal_progress_is_printed_as_plain_lines(
    tmp_path: Path, cluster_args: list[str]
) -> None:
    env = os.environ | {"KUBEBENCH_PROGRESS_INTERVAL_S": "0.2", "COLUMNS": "200"}
    cmd = _kubebench(
        "run", "--model", "oracle", "--stratified", "1", "--out", str(tmp_path),
        "--run-id", "plain", "--grading-concurrency", "2", *cluster_args,
    )  # fmt: skip
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    line = re.compile(
        r"^attempts (\d+)/24 \(\d+ %\)  elapsed \d+:\d\d:\d\d  eta (\S+)  pass \S+ %$", re.M
    )
    counts = [int(m.group(1)) for m in line.finditer(result.stderr)]
    assert len(counts) >= 3, result.stderr  # during the run, not only at its end
    assert counts == sorted(counts) and counts[-1] == 24
    assert "━" not in result.stderr  # no bar drawn into a file


def test_a_lone_surrogate_answer_is_recorded_and_graded_as_a_parse_failure(
    tmp_path: Path, cluster_args: list[str]
) -> None:
    from kubebench.tasks.loader import load_tasks

    task = load_tasks(split="test")[0]
    answers = tmp_path / "answers.json"
    answer = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ud800\n```"
    answers.write_text(json.dumps({task.id: answer}))  # JSON escapes the surrogate
    runner = CliRunner()
    args = ["run", "--model", f"scripted:{answers}", "--task", task.id, "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--run-id", "s", *cluster_args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    [rec] = RunStore.open(tmp_path / "s").attempts()
    assert rec.answer == answer  # stored losslessly
    assert rec.graded and rec.verdict is not None
    assert rec.verdict.stage.value == "parse" and "surrogate" in rec.verdict.reason
    report = runner.invoke(app, ["report", str(tmp_path / "s"), "--json"])
    assert report.exit_code == 0
    assert json.loads(report.stdout)["overall"]["graded"] == 1


def test_a_garbled_last_line_does_not_stop_report_or_resume(
    tmp_path: Path, cluster_args: list[str]
) -> None:
    runner = CliRunner()
    args = ["run", "--model", "oracle", "--limit", "3", "--out", str(tmp_path), "--run-id", "g"]
    assert runner.invoke(app, [*args, *cluster_args]).exit_code == 0
    path = tmp_path / "g" / "attempts.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + b"\x00\x00garbled\x00\n")  # newline kept

    report = runner.invoke(app, ["report", str(tmp_path / "g"), "--json"])
    assert report.exit_code == 0, repr(report.exception)
    assert json.loads(report.stdout)["overall"]["graded"] == 2
    assert "line 3" in report.stderr

    resumed = runner.invoke(app, ["run", "--resume", str(tmp_path / "g"), *cluster_args])
    assert resumed.exit_code == 0, resumed.output + repr(resumed.exception)
    assert "set aside" in resumed.stderr
    store = RunStore.open(tmp_path / "g")
    assert len(store.attempts()) == 3 and all(r.success for r in store.attempts())
    assert (tmp_path / "g" / "attempts.jsonl.garbled").read_bytes() == b"\x00\x00garbled\x00\n"


def test_credentials_in_a_model_url_never_reach_the_run_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubebench.runner.launch import RunRequest, prepare_run

    runner = CliRunner()
    model = "openai:x?base_url=http://u:sk-X@127.0.0.1:9/v1"
    result = runner.invoke(app, ["run", "--model", model, "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "credentials" in str(result.exception) or "base_url" in str(result.exception)
    assert "sk-X" not in str(result.exception) and "sk-X" not in result.output
    assert not any(tmp_path.iterdir())

    monkeypatch.setenv("KUBEBENCH_OPENAI_BASE_URL", "http://u:sk-X@127.0.0.1:9/v1")
    prepared = prepare_run(RunRequest(model_id="openai:x", out_dir=tmp_path))
    recorded = prepared.meta.model_dump_json()
    assert "sk-X" not in recorded and "http://127.0.0.1:9/v1" in recorded


def test_resume_creates_the_model_from_its_whole_id(tmp_path: Path) -> None:
    from kubebench.runner.launch import RunRequest, prepare_resume, prepare_run

    model = "openai:x?base_url=http://127.0.0.1:9/v1&stream=true"
    prepared = prepare_run(RunRequest(model_id=model, out_dir=tmp_path, run_id="r"))
    RunStore.create(prepared.run_dir, prepared.meta).close()
    resumed = prepare_resume(prepared.run_dir)
    assert resumed.store is not None
    resumed.store.close()
    assert resumed.provider.describe() == prepared.provider.describe()
    assert resumed.provider.describe()["base_url"] == "http://127.0.0.1:9/v1"


def test_a_run_left_with_infrastructure_errors_exits_3(
    tmp_path: Path, cluster_args: list[str]
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = f"openai:m?base_url=http://127.0.0.1:{port}/v1&retries=0&backoff_s=0.01"
    args = ["run", "--model", model, "--limit", "1", "--out", str(tmp_path), "--run-id", "down"]
    result = CliRunner().invoke(app, [*args, "--no-cache", *cluster_args])
    assert result.exit_code == 3, result.output + repr(result.exception)
    assert "1 attempts failed on infrastructure errors" in result.stderr
    [rec] = RunStore.open(tmp_path / "down").attempts()
    assert rec.infrastructure_stage == "generation" and not rec.graded
