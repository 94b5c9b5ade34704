"""The scope allowlist, with discovery answers written out by hand."""

from __future__ import annotations

from kubebench.cluster.client import ResourceInfo
from kubebench.grading.extract import YamlBlock
from kubebench.grading.parse import parse_documents
from kubebench.grading.scope import check_scope
from tests.grading.builders import role_task

RBAC = "rbac.authorization.k8s.io"
RESOURCES = {
    ("v1", "ConfigMap"): ResourceInfo("", "v1", "ConfigMap", "configmaps", True),
    ("v1", "Namespace"): ResourceInfo("", "v1", "Namespace", "namespaces", False),
    (f"{RBAC}/v1", "Role"): ResourceInfo(RBAC, "v1", "Role", "roles", True),
    (f"{RBAC}/v1", "ClusterRoleBinding"): ResourceInfo(
        RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", False
    ),
    ("evil.example/v1", "Role"): ResourceInfo("evil.example", "v1", "Role", "roles", True),
}


def reasons(yaml_text: str, **task_changes: object) -> list[str]:
    task = role_task("team-a").model_copy(update=task_changes)
    docs = parse_documents([YamlBlock(yaml_text, 1, fenced=True)])
    return [v.reason for v in check_scope(docs, task, RESOURCES)]


def test_allowed_kind_in_named_namespace_passes() -> None:
    role = f"apiVersion: {RBAC}/v1\nkind: Role\nmetadata: {{name: r, namespace: team-a}}\n"
    assert reasons(role) == []


def test_kind_outside_the_allowlist_is_refused() -> None:
    crb = f"apiVersion: {RBAC}/v1\nkind: ClusterRoleBinding\nmetadata: {{name: x}}\n"
    assert reasons(crb) == [
        "document 1 (ClusterRoleBinding x, line 1): kind ClusterRoleBinding is not allowed "
        "for this task (allowed: Role)"
    ]


def test_namespace_the_task_does_not_name_is_refused() -> None:
    role = f"apiVersion: {RBAC}/v1\nkind: Role\nmetadata: {{name: r, namespace: kube-system}}\n"
    assert "targets namespace kube-system, which the task does not name" in reasons(role)[0]


def test_missing_namespace_means_default() -> None:
    role = f"apiVersion: {RBAC}/v1\nkind: Role\nmetadata: {{name: r}}\n"
    assert "targets namespace default (no metadata.namespace" in reasons(role)[0]
    assert reasons(role, namespaces=["team-a", "default"]) == []


def test_namespace_documents_must_be_named_by_the_task() -> None:
    ok = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n"
    bad = "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n"
    allowed = ["Namespace"]
    assert reasons(ok, allowed_kinds=allowed) == []
    assert (
        "namespace kube-system is not one the task names" in reasons(bad, allowed_kinds=allowed)[0]
    )


def test_same_kind_name_in_another_group_is_refused() -> None:
    evil = "apiVersion: evil.example/v1\nkind: Role\nmetadata: {name: r, namespace: team-a}\n"
    assert "serves a different Role than the task allows" in reasons(evil)[0]
