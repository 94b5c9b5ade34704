"""`kubebench tasks ...` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.errors import UserError
from kubebench.tasks.loader import CANARY_GUID, load_tasks
from kubebench.tasks.similarity import shingles, similarity_report

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, ["tasks", *args], catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_stats_shows_every_cell_and_the_total() -> None:
    output = _run("stats")
    assert "810" in output
    for kind in ("Namespace", "ClusterRoleBinding"):
        row = next(line for line in output.splitlines() if f" {kind} " in line)
        counts = [int(x) for x in row.replace("│", " ").split()[1:]]
        assert all(c in (33, 34) for c in counts[:3]) and counts[3] == sum(counts[:3])


def test_list_filters_by_kind_and_tier() -> None:
    output = _run("list", "--kind", "role", "--tier", "advanced")
    assert "role-advanced-001" in output
    assert "rolebinding-" not in output and "role-basic-" not in output
    with pytest.raises(UserError, match="unknown --kind"):
        runner.invoke(app, ["tasks", "list", "--kind", "Pod"], catch_exceptions=False)


def test_show_prints_prompt_expectations_and_reference() -> None:
    task = load_tasks("test")[100]
    output = _run("show", task.id)
    assert task.id in output
    assert task.prompt.splitlines()[0][:40] in output
    assert "Expectations" in output and "Reference" in output
    assert f"kind: {task.category.value}" in output
    with pytest.raises(UserError, match="unknown task id"):
        runner.invoke(app, ["tasks", "show", "role-basic-999"], catch_exceptions=False)


def test_unknown_id_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubebench.cli.main", "tasks", "show", "nope-001"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown task id" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_export_round_trips(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"dev.{fmt}"
    _run("export", "--split", "dev", "--format", fmt, "--out", str(out), "--kind", "Secret")
    text = out.read_text()
    records = (
        [json.loads(line) for line in text.splitlines()] if fmt == "jsonl" else json.loads(text)
    )
    expected = [t.id for t in load_tasks("dev") if t.category == "Secret"]
    assert [r["id"] for r in records] == expected
    assert all(r["canary"] == CANARY_GUID for r in records)


def test_similarity_command_reports_the_distribution() -> None:
    output = _run("similarity", "--top", "3")
    assert "max" in output and "median" in output and "closest pairs" in output


def test_no_two_test_prompts_are_near_duplicates() -> None:
    report = similarity_report(load_tasks("test"))
    assert report.max < 0.9, report.top_pairs[:3]
    assert len(report.nearest) == 810


def test_similarity_detects_a_near_duplicate() -> None:
    tasks = sorted(load_tasks("test")[:50], key=lambda t: -len(t.prompt))[:5]
    copy = tasks[0].model_copy(update={"id": "copy", "prompt": tasks[0].prompt + " Thanks."})
    report = similarity_report([*tasks, copy])
    assert report.top_pairs[0][1:] == (tasks[0].id, "copy")
    assert report.top_pairs[0][0] >= 0.9
    assert shingles("a b c d") == {("a", "b", "c"), ("b", "c", "d")}


def test_generate_writes_to_a_folder(tmp_path: Path) -> None:
    _run("generate", "--dest", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dev.jsonl",
        "task.schema.json",
        "test.jsonl",
    ]


def test_every_command_has_help() -> None:
    for command in ("list", "show", "stats", "export", "similarity", "generate"):
        result = runner.invoke(app, ["tasks", command, "--help"])
        assert result.exit_code == 0 and len(result.output) > 100
