"""Hostile answers: each is graded with a clear reason, none crashes the grader or harms
the cluster, and a canary task still passes afterwards."""

from __future__ import annotations

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.grading.pipeline import grade_answer
from kubebench.grading.verdict import Stage
from tests.grading.builders import configmap_task, role_task, role_yaml

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
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_answer_is_graded_with_a_clear_reason(kube: KubeClient, name: str) -> None:
    answer, stage, reason = HOSTILE[name]
    verdict = await grade_answer(role_task(NS), answer, kube)
    assert verdict.stage == stage, verdict.reason
    assert reason in verdict.reason
    assert "\n" not in verdict.reason and len(verdict.reason) < 500
    assert not verdict.success and verdict.infrastructure_error is None


async def test_cluster_is_healthy_after_the_hostile_answers(kube: KubeClient, leftovers) -> None:
    for answer, _, _ in HOSTILE.values():
        await grade_answer(role_task(NS), answer, kube)
    webhooks = await kube.list("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
    assert webhooks == []
    assert (
        await kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "everyone-is-admin")
        is None
    )
    assert (
        await kube.get("rbac.authorization.k8s.io/v1", "Role", "pod-reader", "kube-system") is None
    )
    canary = configmap_task("gh-canary")
    verdict = await grade_answer(canary, canary.reference, kube)
    assert verdict.success, verdict.reason
    assert await leftovers("gh-") == []
