"""Isolation: concurrent attempts, leftovers of crashed runs, cancellation, and objects
that existed before KubeBench."""

from __future__ import annotations

import asyncio

import yaml

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.grading.pipeline import grade_answer, settle_cleanups
from kubebench.grading.server_state import forget_server_state
from kubebench.grading.verdict import Stage
from tests.grading.builders import clusterrole_task, configmap_task, configmap_yaml


async def test_same_task_eight_times_at_once_all_pass_and_leave_nothing(
    kube: KubeClient, leftovers
) -> None:
    task = configmap_task("gi-passk")
    verdicts = await asyncio.gather(*(grade_answer(task, task.reference, kube) for _ in range(8)))
    assert [v.success for v in verdicts] == [True] * 8, [v.reason for v in verdicts]
    assert await leftovers("gi-passk") == []


async def test_different_tasks_run_concurrently_and_clean_up(kube: KubeClient, leftovers) -> None:
    tasks = [configmap_task(f"gi-many-{i}") for i in range(6)] + [clusterrole_task("gi-many-cr")]
    verdicts = await asyncio.gather(*(grade_answer(t, t.reference, kube) for t in tasks))
    assert all(v.success for v in verdicts), [v.reason for v in verdicts]
    assert await leftovers("gi-many-") == []


async def test_an_attempts_objects_do_not_leak_into_the_next_attempt(kube: KubeClient) -> None:
    task = configmap_task("gi-leak")
    assert (await grade_answer(task, task.reference, kube)).success
    # Same task, an answer that writes a different name: the first attempt's ConfigMap
    # must be gone, so the expectation on it fails.
    verdict = await grade_answer(task, configmap_yaml("gi-leak", name="other"), kube)
    assert verdict.stage == Stage.expectations
    assert "not found" in verdict.reason


async def write_leftovers(kube: KubeClient, ns: str) -> None:
    """What a killed run leaves: the task's namespace and the answer's ConfigMap,
    written with KubeBench's field manager."""
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await kube.apply(yaml.safe_load(configmap_yaml(ns)))


async def test_leftovers_of_a_crashed_run_are_cleared_first(kube: KubeClient, leftovers) -> None:
    task = configmap_task("gi-crash")
    await settle_cleanups(kube)
    await write_leftovers(kube, "gi-crash")
    forget_server_state(kube)  # a new process starts after the crash
    verdict = await grade_answer(task, configmap_yaml("gi-crash", name="other"), kube)
    assert verdict.stage == Stage.expectations and "not found" in verdict.reason
    assert (await grade_answer(task, task.reference, kube)).success
    assert await leftovers("gi-crash") == []


async def test_objects_written_behind_the_graders_back_are_caught(
    kube: KubeClient, leftovers
) -> None:
    task = configmap_task("gi-behind")
    assert (await grade_answer(task, task.reference, kube)).success
    await settle_cleanups(kube)
    await write_leftovers(kube, "gi-behind")  # this process believes the names absent
    verdict = await grade_answer(task, configmap_yaml("gi-behind", name="other"), kube)
    assert verdict.infrastructure_error and "already existed" in verdict.infrastructure_error
    retry = await grade_answer(task, configmap_yaml("gi-behind", name="other"), kube)
    assert retry.infrastructure_error is None
    assert retry.stage == Stage.expectations and "not found" in retry.reason
    assert await leftovers("gi-behind") == []


async def test_cancelled_attempt_still_cleans_up(kube: KubeClient, leftovers) -> None:
    task = configmap_task("gi-cancel")
    attempt = asyncio.create_task(grade_answer(task, task.reference, kube))
    # Cancel once the attempt has written something (its namespace from setup).
    for _ in range(200):
        if await kube.get("v1", "Namespace", "gi-cancel") is not None or attempt.done():
            break
        await asyncio.sleep(0.01)
    attempt.cancel()
    await asyncio.gather(attempt, return_exceptions=True)
    assert await leftovers("gi-cancel") == []
    assert (await grade_answer(task, task.reference, kube)).success
    assert await settle_cleanups(kube) == []


async def test_objects_that_existed_before_kubebench_are_never_overwritten(
    kube: KubeClient,
) -> None:
    task = clusterrole_task("admin")  # `admin` is a built-in, aggregated ClusterRole
    before = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "admin")
    assert before is not None
    verdict = await grade_answer(task, task.reference, kube)
    assert verdict.stage == Stage.scope
    assert "would overwrite ClusterRole admin, which existed before KubeBench" in verdict.reason
    await settle_cleanups(kube)
    after = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "admin")
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    managers = {m.get("manager") for m in after["metadata"].get("managedFields", [])}
    assert defaults.FIELD_MANAGER not in managers
