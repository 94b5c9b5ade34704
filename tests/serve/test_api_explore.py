"""The JSON API over tasks, runs, attempts and the leaderboard (real shipped tasks, run
folders written by the real run store)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kubebench.grading.verdict import DocumentResult, ExpectationResult, Stage, Verdict
from kubebench.runner.records import AttemptRecord, RunMeta
from kubebench.runner.store import RunStore
from kubebench.tasks.loader import get_task, load_tasks
from tests.serve.conftest import RunningServer

TASK = "configmap-advanced-001"


def _write_failing_run(runs: Path) -> None:
    """A run of a scripted model with one attempt failing its dry-run and one failing
    an expectation, written through the run store."""
    meta = RunMeta(
        run_id="scripted-run",
        model_id="scripted:answers.json",
        task_ids=[TASK, "role-basic-001"],
        split="test",
        created_at="2099-01-01T00:00:00+00:00",
    )
    with RunStore.create(runs / "scripted-run", meta) as store:
        store.append_attempt(
            AttemptRecord(
                attempt_key=f"{TASK}#0",
                task_id=TASK,
                sample=0,
                category="ConfigMap",
                tier="advanced",
                model_id=meta.model_id,
                answer="```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n```",
                verdict=Verdict(
                    task_id=TASK,
                    stage=Stage.dry_run,
                    reason="document 1 failed server-side dry-run",
                    documents=[
                        DocumentResult(
                            index=0,
                            api_version="v1",
                            kind="ConfigMap",
                            name="Bad_Name",
                            message='ConfigMap "Bad_Name" is invalid',
                            causes=["metadata.name: Invalid value"],
                        )
                    ],
                ),
            )
        )
        store.append_attempt(
            AttemptRecord(
                attempt_key="role-basic-001#0",
                task_id="role-basic-001",
                sample=0,
                category="Role",
                tier="basic",
                model_id=meta.model_id,
                answer="kind: Role",
                verdict=Verdict(
                    task_id="role-basic-001",
                    stage=Stage.expectations,
                    runtime_valid=True,
                    expectations=[
                        ExpectationResult(
                            index=0,
                            kind="object",
                            description="Role rules",
                            passed=False,
                            reason="verbs differ",
                            observed=["get"],
                        )
                    ],
                ),
            )
        )


@pytest.fixture
def api_url(start_server: Callable[..., RunningServer], runs_dir: Path) -> str:
    _write_failing_run(runs_dir)
    return start_server(runs_dir=runs_dir).url


def test_tasks_are_paged_and_filtered(api_url: str) -> None:
    everything = httpx.get(f"{api_url}/api/tasks").json()
    assert everything["total"] == len(load_tasks()) and len(everything["items"]) == 50
    facets = everything["facets"]
    assert facets["split"] == ["dev", "test"]
    assert facets["tier"] == sorted({t.tier.value for t in load_tasks()})
    assert len(facets["kind"]) == 8 and "ClusterRoleBinding" in facets["kind"]
    second = httpx.get(f"{api_url}/api/tasks", params={"offset": 50, "limit": 5}).json()
    assert [t["id"] for t in second["items"]] == [t.id for t in load_tasks()[50:55]]
    roles = httpx.get(f"{api_url}/api/tasks", params={"kind": "role", "tier": "basic"}).json()
    assert roles["total"] > 0
    assert {(t["kind"], t["tier"]) for t in roles["items"]} == {("Role", "basic")}
    assert roles["facets"] == facets  # filters do not shrink the choices
    item = roles["items"][0]
    assert set(item) >= {"id", "kind", "tier", "operation", "split", "prompt"}
    assert len(item["prompt"]) <= 200
    found = httpx.get(f"{api_url}/api/tasks", params={"q": TASK}).json()
    assert [t["id"] for t in found["items"]] == [TASK]
    dev = httpx.get(f"{api_url}/api/tasks", params={"split": "dev", "limit": 1}).json()
    assert dev["items"][0]["split"] == "dev"
    bad = httpx.get(f"{api_url}/api/tasks", params={"kind": "Pod"})
    assert bad.status_code == 400 and "unknown --kind" in bad.json()["error"]["message"]
    assert httpx.get(f"{api_url}/api/tasks", params={"limit": 0}).status_code == 400


def test_task_detail_has_expectations_in_words_and_reference(api_url: str) -> None:
    detail = httpx.get(f"{api_url}/api/tasks/{TASK}").json()
    task = get_task(TASK)
    assert detail["prompt"] == task.prompt and detail["reference"] == task.reference
    assert detail["expectations"] and all(isinstance(e, str) for e in detail["expectations"])
    assert httpx.get(f"{api_url}/api/tasks/nope-001").status_code == 404
    namespace = httpx.get(f"{api_url}/api/tasks/namespace-basic-001").json()["expectations"]
    assert namespace and not any("exists exists" in words for words in namespace)


def test_runs_list_and_detail(api_url: str) -> None:
    runs = httpx.get(f"{api_url}/api/runs").json()
    assert runs["total"] == 2
    newest, old = runs["items"]
    assert newest["run_id"] == "scripted-run" and newest["success_rate"] == 0.0
    assert old["run_id"] == "old-run" and old["success_rate"] == 1.0 and old["tasks"] == 4
    detail = httpx.get(f"{api_url}/api/runs/scripted-run").json()
    assert detail["heatmap"] == {"ConfigMap": {"advanced": 0.0}, "Role": {"basic": 0.0}}
    assert detail["failure_stages"] == {"dry_run": 1, "expectations": 1}
    assert httpx.get(f"{api_url}/api/runs/../old-run").status_code == 404
    assert httpx.get(f"{api_url}/api/runs/missing").status_code == 404


def test_attempts_filter_and_detail_with_diff(api_url: str) -> None:
    listing = httpx.get(f"{api_url}/api/runs/scripted-run/attempts").json()
    assert listing["total"] == 2
    failed = httpx.get(
        f"{api_url}/api/runs/scripted-run/attempts", params={"passed": "false", "kind": "Role"}
    ).json()["items"]
    assert [(a["task_id"], a["stage"]) for a in failed] == [
        ("role-basic-001", "expectations: object")
    ]
    ident = listing["items"][0]["attempt_id"]
    detail = httpx.get(f"{api_url}/api/runs/scripted-run/attempts/{ident}").json()
    assert detail["extracted_yaml"].startswith("apiVersion: v1")
    assert detail["documents"][0]["message"] == 'ConfigMap "Bad_Name" is invalid'
    assert detail["reference"] == get_task(TASK).reference
    assert detail["diff"].startswith("--- answer\n+++ reference\n")
    # The answer has no final newline: its last line must stay a line of its own.
    assert "\n-  name: Bad_Name\n" in detail["diff"]
    role = httpx.get(f"{api_url}/api/runs/scripted-run/attempts/{failed[0]['attempt_id']}").json()
    assert role["expectations"] == [
        {
            "description": "Role rules",
            "kind": "object",
            "passed": False,
            "reason": "verbs differ",
            "observed": ["get"],
        }
    ]
    missing = httpx.get(f"{api_url}/api/runs/scripted-run/attempts/nope.0")
    assert missing.status_code == 404


def test_judge_scores_of_an_attempt(api_url: str) -> None:
    attempts = httpx.get(f"{api_url}/api/runs/old-run/attempts").json()["items"]
    detail = httpx.get(f"{api_url}/api/runs/old-run/attempts/{attempts[0]['attempt_id']}").json()
    assert detail["judge"], "the old run's judgements are judge scores"
    assert detail["judge"][0]["rationale"].startswith("fixture:judge")


def test_leaderboard_rows(api_url: str) -> None:
    board = httpx.get(f"{api_url}/api/leaderboard").json()
    models = {row["model"]: row for row in board["items"]}
    assert set(models) == {"oracle:reference", "scripted:answers.json"}
    oracle = models["oracle:reference"]
    assert oracle["success_rate"] == 1.0 and oracle["ci_low"] < 1.0 <= oracle["ci_high"]
    assert oracle["run_ids"] == ["old-run"] and "T=0.0" in oracle["config"]


def test_without_a_runs_folder_runs_are_404(serve_url: str) -> None:
    resp = httpx.get(f"{serve_url}/api/runs")
    assert resp.status_code == 404 and "--runs" in resp.json()["error"]["message"]


def test_a_new_run_appears_without_a_restart(
    start_server: Callable[..., RunningServer], runs_dir: Path
) -> None:
    url = start_server(runs_dir=runs_dir).url
    assert httpx.get(f"{url}/api/runs").json()["total"] == 1
    assert len(httpx.get(f"{url}/api/leaderboard").json()["items"]) == 1
    _write_failing_run(runs_dir)
    assert httpx.get(f"{url}/api/runs").json()["total"] == 2
    assert len(httpx.get(f"{url}/api/leaderboard").json()["items"]) == 2
