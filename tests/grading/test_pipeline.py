"""grade_answer on the real API server: what passes, what fails, and why."""

from __future__ import annotations

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import free_port
from kubebench.cluster.kubeconfig import Connection
from kubebench.grading.pipeline import grade_answer
from kubebench.grading.verdict import Stage
from tests.grading.builders import configmap_task, configmap_yaml, role_task, role_yaml


async def test_correct_answer_passes_with_documents_and_timings(
    kube: KubeClient, leftovers
) -> None:
    task = configmap_task("gp-ok")
    answer = f"Here it is:\n```yaml\n{task.reference}```\nApply it with kubectl."
    verdict = await grade_answer(task, answer, kube)
    assert verdict.success, verdict.reason
    assert verdict.stage == Stage.passed and verdict.reason == ""
    assert verdict.runtime_valid and verdict.operational_valid
    [doc] = verdict.documents
    assert (doc.kind, doc.name, doc.namespace) == ("ConfigMap", "app-config", "gp-ok")
    assert doc.dry_run_ok and doc.applied
    assert [e.passed for e in verdict.expectations] == [True]
    assert verdict.prose == "Here it is:\nApply it with kubectl."
    for stage in ("parse", "scope", "baseline", "setup", "dry_run", "apply", "expectations"):
        assert stage in verdict.timings
    assert await leftovers("gp-ok") == []


async def test_unknown_field_fails_dry_run_with_the_servers_message(kube: KubeClient) -> None:
    task = configmap_task("gp-unknown")
    answer = task.reference + "spec:\n  replicas: 2\n"
    verdict = await grade_answer(task, answer, kube)
    assert verdict.stage == Stage.dry_run and not verdict.runtime_valid
    assert not verdict.success and verdict.infrastructure_error is None
    message = verdict.documents[0].message
    assert 'unknown field "spec"' in message
    assert message in verdict.reason and verdict.reason.startswith("document 1 (ConfigMap")


async def test_every_invalid_field_is_named_in_the_verdict(kube: KubeClient) -> None:
    """As kubectl lists every cause of an Invalid Status, the verdict keeps each one."""
    task = configmap_task("gp-two-invalid")
    answer = task.reference.replace("name: app-config", "name: Not_A_Name") + ("  bad key!: x\n")
    verdict = await grade_answer(task, answer, kube)
    assert verdict.stage == Stage.dry_run and verdict.infrastructure_error is None
    [doc] = verdict.documents
    assert doc.reason == "Invalid"
    fields = sorted(cause.split(": ", 1)[0] for cause in doc.causes)
    assert fields == ["data[bad key!]", "metadata.name"]
    for cause in doc.causes:
        assert cause in verdict.reason


async def test_invalid_dns_name_fails_dry_run(kube: KubeClient) -> None:
    task = configmap_task("gp-dns")
    verdict = await grade_answer(task, configmap_yaml("gp-dns", name="App_Config"), kube)
    assert verdict.stage == Stage.dry_run
    assert "RFC 1123" in verdict.documents[0].message
    assert not verdict.documents[0].applied


async def test_wrong_value_fails_expectations_with_the_observed_value(kube: KubeClient) -> None:
    task = configmap_task("gp-wrong")
    verdict = await grade_answer(task, configmap_yaml("gp-wrong", mode="slow"), kube)
    assert verdict.stage == Stage.expectations
    assert verdict.runtime_valid and not verdict.operational_valid
    [result] = verdict.expectations
    assert not result.passed and result.observed == "slow"
    assert verdict.reason.startswith("expectation 1 failed:")


async def test_unserved_api_version_fails_dry_run(kube: KubeClient) -> None:
    task = role_task("gp-version")
    answer = role_yaml("gp-version").replace(
        "rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1beta1"
    )
    verdict = await grade_answer(task, answer, kube)
    assert verdict.stage == Stage.dry_run
    assert (
        'no matches for kind "Role" in version "rbac.authorization.k8s.io/v1beta1"'
        in verdict.reason
    )


async def test_rbac_task_is_checked_by_access_reviews(kube: KubeClient, leftovers) -> None:
    task = role_task("gp-rbac")
    assert (await grade_answer(task, task.reference, kube)).success
    too_wide = role_yaml("gp-rbac").replace('["get", "list"]', '["*"]')
    verdict = await grade_answer(task, too_wide, kube)
    assert verdict.stage == Stage.expectations
    assert "may not delete pods" in verdict.reason
    assert await leftovers("gp-rbac") == []


async def test_answer_namespace_is_created_before_its_objects(kube: KubeClient, leftovers) -> None:
    task = configmap_task("gp-own-ns").model_copy(
        update={"setup": [], "allowed_kinds": ["Namespace", "ConfigMap"]}
    )
    # The ConfigMap comes first in the answer: the namespace must still be made first.
    answer = task.reference + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: gp-own-ns\n"
    verdict = await grade_answer(task, answer, kube)
    assert verdict.success, verdict.reason
    assert [d.applied for d in verdict.documents] == [True, True]
    assert await leftovers("gp-own-ns") == []


async def test_generated_names_and_finalizers_are_cleaned_up(kube: KubeClient, leftovers) -> None:
    task = configmap_task("gp-final")
    extra = (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: extra-\n"
        "  namespace: gp-final\n  finalizers: [example.com/hold]\n"
    )
    verdict = await grade_answer(task, task.reference + extra, kube)
    assert verdict.success, verdict.reason
    assert await leftovers("gp-final") == []


async def test_unreachable_server_is_an_infrastructure_error_not_a_failure() -> None:
    dead = Connection(server=f"https://127.0.0.1:{free_port()}", insecure=True)
    async with KubeClient(dead, timeout_s=2) as kube:
        task = configmap_task("gp-dead")
        verdict = await grade_answer(task, task.reference, kube)
    assert verdict.infrastructure_error and "unreachable" in verdict.infrastructure_error
    assert not verdict.success
