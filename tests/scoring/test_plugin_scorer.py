"""A scorer added from outside the package, by one module and one entry point, scores a
stored run through `kubebench score` and shows up in `kubebench report --json`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.runner.store import RunStore
from kubebench.scoring.registry import ENTRY_POINT_GROUP, create_scorer, list_scorers
from tests.runner.records_factory import make_meta, make_record, make_task

TOY_MODULE = '''
"""A toy scorer: the answer's length in characters, capped at 100, over 100."""

from kubebench.scoring.base import Score


class AnswerLength:
    name = "answer_length"
    version = "7"
    needs_cluster = False
    needs_verdict = False

    async def score(self, task, attempt, context):
        return Score(
            name=self.name,
            version=self.version,
            value=min(len(attempt.answer), 100) / 100,
            explanation=f"{len(attempt.answer)} characters",
        )

    async def aclose(self):
        return None


def create(argument=""):
    return AnswerLength()
'''


@pytest.fixture
def toy_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install `toy_scorer` as a distribution on sys.path: one module, one entry point."""
    site = tmp_path / "site"
    (site / "toy_scorer-0.1.dist-info").mkdir(parents=True)
    (site / "toy_scorer.py").write_text(TOY_MODULE)
    (site / "toy_scorer-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-scorer\nVersion: 0.1\n"
    )
    (site / "toy_scorer-0.1.dist-info" / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""
            [{ENTRY_POINT_GROUP}]
            toy = toy_scorer:create
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    return "toy"


def test_a_scorer_from_an_entry_point_is_listed_and_created(toy_plugin: str) -> None:
    infos = {info.name: info.source for info in list_scorers()}
    assert infos[toy_plugin] == "toy_scorer:create"
    scorer = create_scorer(toy_plugin)
    assert (scorer.name, scorer.version) == ("answer_length", "7")


def test_plugin_scores_reach_report_json(
    tmp_path: Path, toy_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubebench.cli import score as score_cli

    tasks = {t.id: t for t in (make_task("a"), make_task("b"))}
    monkeypatch.setattr(score_cli.TaskLookup, "__missing__", lambda self, key: tasks[key])
    run_dir = tmp_path / "run"
    with RunStore.create(run_dir, make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b", success=False))
        store.append_attempt(make_record("c", infra="API server unreachable"))
    runner = CliRunner()
    result = runner.invoke(app, ["score", str(run_dir), "--scorer", toy_plugin])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "answer_length@7: scored 2 attempt(s) now" in result.stderr
    again = runner.invoke(app, ["score", str(run_dir), "--scorer", toy_plugin])
    assert "scored 0 attempt(s) now; 2 already scored" in again.stderr

    report = runner.invoke(app, ["report", str(run_dir), "--format", "json"])
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    [toy] = [s for s in data["scorers"] if s["name"] == "answer_length"]
    # make_record's answer is "apiVersion: v1": 14 characters.
    assert (toy["version"], toy["scored"], toy["mean"]) == ("7", 2, pytest.approx(0.14))
    rows = {a["attempt_key"]: a["scores"] for a in data["attempts"]}
    assert rows["a#0"]["answer_length@7"] == pytest.approx(0.14)
    assert "answer_length@7" not in rows["c#0"]  # not graded: not scored
    text = runner.invoke(app, ["report", str(run_dir)], terminal_width=200)
    assert "answer_length@7" in text.output


def test_an_unknown_scorer_is_a_one_line_error(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "run", make_meta(["a"])) as store:
        store.append_attempt(make_record("a"))
    result = CliRunner().invoke(app, ["score", str(tmp_path / "run"), "--scorer", "nope"])
    assert result.exit_code != 0
    assert "unknown scorer 'nope'; known scorers: grader, judge" in str(result.exception)


def test_the_grader_is_not_a_deferred_scorer(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "run", make_meta(["a"])) as store:
        store.append_attempt(make_record("a"))
    result = CliRunner().invoke(app, ["score", str(tmp_path / "run"), "--scorer", "grader"])
    assert result.exit_code != 0
    assert "its scores come from `kubebench run`" in str(result.exception)
