"""Hostile answers: each is graded with a clear reason, none crashes the grader or harms
the cluster, and a canary task still passes afterwards. The inputs that once crashed
KubeBench (issue 11) are graded through `kubebench grade` and `kubebench run` as well,
with the cluster's objects compared before and after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.grading.pipeline import grade_answer
from kubebench.grading.verdict import Stage
from kubebench.tasks.schema import Task
from tests.grading.builders import (
    clusterrolebinding_task,
    configmap_task,
    configmap_yaml,
    role_task,
    role_yaml,
)
from tests.grading.conftest import cluster_objects

NS = "gh-hostile"


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n" + role_yaml(NS)


WEBHOOK = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: deny-everything
webhooks:
- name: deny.example.com
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: ["v1"]
  clientConfig:
    url: https://127.0.0.1:1/deny
  rules:
  - operations: ["*"]
    apiGroups: ["*"]
    apiVersions: ["*"]
    resources: ["*/*"]
"""

CLUSTER_ADMIN = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: everyone-is-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: Group
  name: system:authenticated
  apiGroup: rbac.authorization.k8s.io
"""

ANONYMOUS_ADMIN = CLUSTER_ADMIN.replace(
    "kind: Group\n  name: system:authenticated", "kind: User\n  name: system:anonymous"
)


def configmap_with(value: str) -> str:
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: {NS}\n"
    return f"{head}data:\n  x: {value}\n"


def too_large_for_etcd() -> str:
    """A ClusterRole of 8 aliases to a 250 KB string: etcd refuses the real create."""
    rules = "".join(
        "- {apiGroups: [''], resources: [pods], verbs: [get], resourceNames: [*s]}\n"
        for _ in range(8)
    )
    return (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
        f"  name: gh-big\n  annotations: {{pad: &s '{'a' * 250_000}'}}\nrules:\n{rules}"
    )


# Inputs that crashed KubeBench or were graded wrongly before issue 11.
ISSUE_11: dict[str, tuple[str, Stage, str]] = {
    "5,000-digit integer": (
        configmap_with("1" * 5000), Stage.parse, "(5000 characters) at line 7 is out of range"
    ),
    "5,000-digit hex integer": (
        configmap_with("0x" + "f" * 5000), Stage.parse, "(5002 characters) at line 7 is out of"
    ),
    "990 nested flow sequences": (
        configmap_with("[" * 990 + "]" * 990), Stage.parse, "nests deeper than 64 levels"
    ),
    "ClusterRole of 8 aliases to a 250 KB string": (
        too_large_for_etcd(), Stage.parse, "expands to more than 1.0 MiB of scalar text"
    ),
    "anonymous cluster-admin binding": (
        ANONYMOUS_ADMIN,
        Stage.scope,
        "binds User system:anonymous, a system user or group the task does not ask for",
    ),
}  # fmt: skip

HOSTILE: dict[str, tuple[str | bytes, Stage, str]] = {
    "10 MB answer": ("a: b\n" * 2_000_000, Stage.parse, "over the 1.0 MiB limit"),
    "billion laughs": (billion_laughs(), Stage.parse, "alias/anchor bomb"),
    "invalid UTF-8": (b"apiVersion: v1\nkind: \xff\xfe\n", Stage.parse, "not valid UTF-8"),
    "1,000 documents": (
        "".join(f"---\n{role_yaml(NS, f'r{i}')}" for i in range(1000)),
        Stage.parse,
        "more than 50 YAML documents",
    ),
    "webhook with failurePolicy Fail": (
        WEBHOOK + "---\n" + role_yaml(NS),
        Stage.scope,
        "kind ValidatingWebhookConfiguration is not allowed",
    ),
    "ClusterRoleBinding to cluster-admin": (
        role_yaml(NS) + "---\n" + CLUSTER_ADMIN,
        Stage.scope,
        "kind ClusterRoleBinding is not allowed for this task (allowed: Role)",
    ),
    "object in kube-system": (
        role_yaml("kube-system"),
        Stage.scope,
        "targets namespace kube-system, which the task does not name",
    ),
    "empty answer": ("", Stage.extract, "the answer is empty"),
    "prose without YAML": (
        "I would create a Role that can read pods, but I cannot write YAML today.",
        Stage.extract,
        "no YAML found in the answer",
    ),
    **ISSUE_11,
}


def task_for(name: str) -> Task:
    """The task each hostile input answers: one that allows what it tries to write."""
    if name == "anonymous cluster-admin binding":
        return clusterrolebinding_task("everyone-is-admin")
    if name in ISSUE_11 and "ConfigMap" in str(ISSUE_11[name][0]):
        return configmap_task(NS)
    return role_task(NS)


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_answer_is_graded_with_a_clear_reason(kube: KubeClient, name: str) -> None:
    answer, stage, reason = HOSTILE[name]
    verdict = await grade_answer(task_for(name), answer, kube)
    assert verdict.stage == stage, verdict.reason
    assert reason in verdict.reason
    assert "\n" not in verdict.reason and len(verdict.reason) < 500
    assert not verdict.success and verdict.infrastructure_error is None


async def test_cluster_is_healthy_after_the_hostile_answers(kube: KubeClient, leftovers) -> None:
    before = await cluster_objects(kube)
    for name, (answer, _, _) in HOSTILE.items():
        await grade_answer(task_for(name), answer, kube)
    assert await cluster_objects(kube) == before
    webhooks = await kube.list("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
    assert webhooks == []
    canary = configmap_task("gh-canary")
    verdict = await grade_answer(canary, canary.reference, kube)
    assert verdict.success, verdict.reason
    assert await leftovers("gh-") == []


KUBEBENCH = [sys.executable, "-m", "kubebench.cli.main"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBEBENCH_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "200"}
    return subprocess.run(
        [*KUBEBENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


async def test_issue_11_inputs_through_kubebench_grade(
    kube: KubeClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    import asyncio

    cluster = ["--kubeconfig", str(control_plane.kubeconfig_path), "--allow-external-writes"]
    before = await cluster_objects(kube)
    for number, (name, (answer, stage, reason)) in enumerate(ISSUE_11.items()):
        task_file = tmp_path / f"task-{number}.json"
        task_file.write_text(task_for(name).model_dump_json())
        answer_file = tmp_path / f"answer-{number}.yaml"
        answer_file.write_text(answer)
        done = await asyncio.to_thread(
            _cli, "grade", "--task-file", str(task_file), "--answer", str(answer_file),
            "--json", *cluster, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 1, (name, done.stdout[-500:], done.stderr[-2000:])
        verdict = json.loads(done.stdout)
        assert verdict["stage"] == stage and reason in verdict["reason"], (name, verdict["reason"])
        assert verdict["infrastructure_error"] is None
    assert await cluster_objects(kube) == before
    canary_task = tmp_path / "canary.json"
    canary_task.write_text(configmap_task("gh-cli-canary").model_dump_json())
    canary_answer = tmp_path / "canary.yaml"
    canary_answer.write_text(configmap_yaml("gh-cli-canary"))
    done = await asyncio.to_thread(
        _cli, "grade", "--task-file", str(canary_task), "--answer", str(canary_answer), *cluster,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert await cluster_objects(kube) == before


def _shipped(category: str, *, exclude: set[str]) -> Task:
    from kubebench.tasks.loader import load_tasks

    return next(
        t for t in load_tasks(split="test") if t.category == category and t.id not in exclude
    )


async def test_issue_11_inputs_through_kubebench_run(
    kube: KubeClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    import asyncio

    from kubebench.runner.store import RunStore

    used: set[str] = set()
    answers: dict[str, str] = {}
    expected: dict[str, tuple[Stage, str]] = {}
    for name, (answer, stage, reason) in ISSUE_11.items():
        category = (
            "ClusterRoleBinding" if name == "anonymous cluster-admin binding" else "ConfigMap"
        )
        task = _shipped(category, exclude=used)
        used.add(task.id)
        answers[task.id] = answer
        expected[task.id] = (stage, reason)
    canary = _shipped("Secret", exclude=used)
    answers[canary.id] = f"```yaml\n{canary.reference}\n```\n"
    script = tmp_path / "answers.json"
    script.write_text(json.dumps(answers))
    before = await cluster_objects(kube)
    tasks = [arg for task_id in answers for arg in ("--task", task_id)]
    done = await asyncio.to_thread(
        _cli, "run", "--model", f"scripted:{script}", *tasks, "--out", str(tmp_path / "runs"),
        "--run-id", "hostile", "--kubeconfig", str(control_plane.kubeconfig_path),
        "--allow-external-writes", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    records = {r.task_id: r for r in RunStore.open(tmp_path / "runs" / "hostile").attempts()}
    assert set(records) == set(answers)
    for task_id, (stage, reason) in expected.items():
        verdict = records[task_id].verdict
        assert verdict is not None and records[task_id].infrastructure_error is None
        assert verdict.stage == stage and reason in verdict.reason, (task_id, verdict.reason)
    assert records[canary.id].success, records[canary.id]
    assert await cluster_objects(kube) == before
