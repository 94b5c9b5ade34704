"""`kubebench compare` and `kubebench leaderboard` on hand-built runs (no cluster)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.runner.records import RunMeta
from kubebench.runner.store import RunStore
from tests.runner.records_factory import make_meta, make_record

TASKS = [f"t{i}" for i in range(10)]


def _run(
    root: Path,
    name: str,
    failing: set[str],
    *,
    model: str = "scripted:test",
    prompt: str = "v1",
    task_hash: str = "abc",
    infra: set[str] = frozenset(),  # type: ignore[assignment]
    temperature: float = 0.0,
    created_at: str = "2026-12-01T10:00:00+00:00",
) -> Path:
    meta = make_meta(TASKS, run_id=name).model_copy(
        update={
            "model_id": model,
            "prompt_version": prompt,
            "task_set_hash": task_hash,
            "created_at": created_at,
        }
    )
    meta = RunMeta.model_validate(meta.model_dump() | {"generation": {"temperature": temperature}})
    with RunStore.create(root / name, meta) as store:
        for i, task in enumerate(TASKS):
            kind, tier = ("Role", "basic") if i < 5 else ("Secret", "advanced")
            if task in infra:
                store.append_attempt(make_record(task, infra="etcd down", kind=kind, tier=tier))
            else:
                store.append_attempt(
                    make_record(task, success=task not in failing, kind=kind, tier=tier)
                )
    return root / name


def test_compare_finds_the_flips_and_the_paired_test(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", failing={"t1", "t6", "t7"}, infra={"t9"})
    b = _run(tmp_path, "b", failing={"t1", "t2"}, model="openai:other")
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [c] = data["comparisons"]
    fixed = [f["task_id"] for f in c["flips"]["fixed"]]
    broken = [f["task_id"] for f in c["flips"]["broken"]]
    assert (fixed, broken) == (["t6", "t7"], ["t2"])
    assert c["excluded_attempts"] == 1  # t9: an infrastructure error in a
    o = c["overall"]
    assert o["pairs"] == 9
    assert (o["passed_in_baseline_only"], o["passed_in_run_only"]) == (1, 2)
    assert o["difference"]["delta"] == (7 - 6) / 9
    assert o["mcnemar_p"] == 1.0  # 1 vs 2 discordant pairs: no evidence
    cells = {(x["kind"], x["tier"]): x for x in c["by_cell"]}
    assert cells[("Secret", "advanced")]["passed_in_run_only"] == 2
    assert c["flips"]["broken"][0]["run"]["reason"] == "ConfigMap settings is missing"
    html = CliRunner().invoke(app, ["compare", str(a), str(b), "--format", "html"]).stdout
    assert "success difference by kind × tier" in html and 'id="flips-1-fixed"' in html
    text = CliRunner().invoke(app, ["compare", str(a), str(b)], terminal_width=200).output
    assert "fail → pass: 2 attempts" in text and "pass → fail: 1 attempts" in text


def test_compare_refuses_other_task_sets_and_prompts_unless_forced(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", failing=set())
    other_prompt = _run(tmp_path, "p", failing=set(), prompt="v2")
    other_tasks = _run(tmp_path, "t", failing=set(), task_hash="def")
    runner = CliRunner()
    for other, why in ((other_prompt, "different prompt versions (v1 vs v2)"),
                       (other_tasks, "different task sets")):  # fmt: skip
        refused = runner.invoke(app, ["compare", str(a), str(other)])
        assert refused.exit_code != 0
        assert why in str(refused.exception) and "--force" in str(refused.exception)
        forced = runner.invoke(app, ["compare", str(a), str(other), "--force", "--format", "json"])
        assert forced.exit_code == 0, forced.output
        assert json.loads(forced.stdout)["warnings"]


def test_leaderboard_ranks_comparable_runs_together(tmp_path: Path) -> None:
    _run(tmp_path, "weak", failing={"t1", "t2", "t3"}, model="openai:small")
    _run(tmp_path, "strong", failing={"t1"}, model="openai:large")
    _run(tmp_path, "strong-hot", failing={"t1", "t2"}, model="openai:large", temperature=0.7)
    _run(tmp_path, "other-prompt", failing=set(), model="openai:large", prompt="v2")
    (tmp_path / "not-a-run").mkdir()
    runner = CliRunner()
    result = runner.invoke(app, ["leaderboard", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [len(t["rows"]) for t in data["tables"]] == [3, 1]
    main = data["tables"][0]
    ranked = [(r["rank"], r["run_id"]) for r in main["rows"]]
    assert ranked == [(1, "strong"), (2, "strong-hot"), (3, "weak")]
    row = main["rows"][0]
    assert row["success"]["rate"] == 0.9 and row["success"]["ci95"][0] < 0.9
    assert row["format_error_rate"]["rate"] == 0.0
    assert row["command"].startswith("kubebench run --model openai:large")
    md = runner.invoke(app, ["leaderboard", str(tmp_path)]).stdout
    assert md.count("## test split") == 2 and "| 1 | openai:large |" in md
    html = runner.invoke(app, ["leaderboard", str(tmp_path), "--format", "html"]).stdout
    assert "<table" in html and "openai:small" in html


def test_leaderboard_keeps_the_latest_run_of_a_configuration(tmp_path: Path) -> None:
    late, early = "2026-12-02T09:00:00+00:00", "2026-12-01T09:00:00+00:00"
    _run(tmp_path, "a-later", failing={"t1"}, model="openai:large", created_at=late)
    _run(tmp_path, "b-earlier", failing={"t1", "t2"}, model="openai:large", created_at=early)
    data = json.loads(
        CliRunner().invoke(app, ["leaderboard", str(tmp_path), "--format", "json"]).stdout
    )
    [table] = data["tables"]
    assert [r["run_id"] for r in table["rows"]] == ["a-later"]
    assert table["superseded_runs"] == ["b-earlier"]
