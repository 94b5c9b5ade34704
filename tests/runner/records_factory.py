"""Hand-built tasks and attempt records for tests that need no cluster."""

from __future__ import annotations

from kubebench.grading.verdict import Stage, Verdict
from kubebench.runner.records import AttemptRecord, RunMeta, attempt_key
from kubebench.tasks.schema import Kind, ObjectExpectation, ObjectRef, Task, Tier


def make_task(task_id: str, kind: Kind = Kind.ConfigMap, tier: Tier = Tier.basic) -> Task:
    """A ConfigMap task in namespace `<id>` whose reference creates the ConfigMap."""
    ns = task_id.replace("_", "-").lower()
    return Task(
        id=task_id,
        category=kind,
        tier=tier,
        prompt=f"Create a ConfigMap named settings in namespace {ns} with key mode=fast.",
        setup=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}],
        allowed_kinds=["ConfigMap"],
        namespaces=[ns],
        expectations=[
            ObjectExpectation(
                ref=ObjectRef(api_version="v1", kind="ConfigMap", name="settings", namespace=ns)
            )
        ],
        reference=(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
            f"  namespace: {ns}\ndata:\n  mode: fast\n"
        ),
    )


def make_record(
    task_id: str,
    sample: int = 0,
    *,
    success: bool = True,
    runtime_valid: bool | None = None,
    infra: str | None = None,
    kind: str = "ConfigMap",
    tier: str = "basic",
    judgement: dict | None = None,
    overall: float | None = None,
) -> AttemptRecord:
    runtime = success if runtime_valid is None else runtime_valid
    verdict = None
    if infra is None:
        verdict = Verdict(
            task_id=task_id,
            runtime_valid=runtime,
            operational_valid=success,
            stage=Stage.passed if success else (Stage.expectations if runtime else Stage.dry_run),
            reason="" if success else "ConfigMap settings is missing",
        )
    return AttemptRecord(
        attempt_key=attempt_key(task_id, sample),
        task_id=task_id,
        sample=sample,
        category=kind,
        tier=tier,
        model_id="scripted:test",
        answer="apiVersion: v1",
        verdict=verdict,
        infrastructure_error=infra,
        infrastructure_stage="grading" if infra else None,
        judgement=judgement,
        overall_score=overall,
    )


def make_meta(task_ids: list[str], samples: int = 1, run_id: str = "test-run") -> RunMeta:
    return RunMeta(run_id=run_id, model_id="scripted:test", task_ids=task_ids, samples=samples)
