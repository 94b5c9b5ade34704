"""The scope allowlist, with discovery answers written out by hand."""

from __future__ import annotations

import pytest

from kubebench.cluster.client import ResourceInfo
from kubebench.grading.extract import YamlBlock, extract_yaml
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


def binding(subject_kind: str, subject: str, role: str = "pod-reader") -> str:
    return (
        f"apiVersion: {RBAC}/v1\nkind: RoleBinding\nmetadata: {{name: b, namespace: team-a}}\n"
        f"roleRef: {{apiGroup: {RBAC}, kind: ClusterRole, name: {role}}}\n"
        f"subjects: [{{kind: {subject_kind}, name: '{subject}', apiGroup: {RBAC}}}]\n"
    )


SYSTEM_SUBJECTS = [
    ("User", "system:anonymous"),
    ("Group", "system:unauthenticated"),
    ("Group", "system:authenticated"),
    ("Group", "system:masters"),
    ("Group", "system:serviceaccounts"),
    ("Group", "system:serviceaccounts:team-a"),
    ("Group", "system:nodes"),
    ("User", "system:node:worker-1"),
    ("User", "system:kube-controller-manager"),
]


@pytest.mark.parametrize(("kind", "name"), SYSTEM_SUBJECTS)
def test_bindings_to_system_users_and_groups_are_refused(kind: str, name: str) -> None:
    [why] = reasons(binding(kind, name), allowed_kinds=["RoleBinding"])
    assert f"binds {kind} {name}, a system user or group the task does not ask for" in why


def test_cluster_admin_binding_is_refused_unless_the_task_binds_it() -> None:
    answer = binding("User", "jane", role="cluster-admin")
    [why] = reasons(answer, allowed_kinds=["RoleBinding"])
    assert why.endswith("binds cluster-admin, which the task does not ask for")
    assert reasons(answer, allowed_kinds=["RoleBinding"], reference=answer) == []
    asked = binding("Group", "system:authenticated")
    assert reasons(asked, allowed_kinds=["RoleBinding"], reference=asked) == []


def test_roles_equivalent_to_cluster_admin_are_refused() -> None:
    everything = (
        f"apiVersion: {RBAC}/v1\nkind: Role\nmetadata: {{name: r, namespace: team-a}}\n"
        "rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n"
    )
    [why] = reasons(everything)
    assert "grants every verb on every resource, which amounts to cluster-admin" in why
    impersonate = everything.replace(
        "resources: ['*'], verbs: ['*']", "resources: [groups], verbs: [impersonate]"
    )
    [why] = reasons(impersonate)
    assert "grants the impersonate verb" in why
    # A wildcard short of everything is the expectations' business, not the scope's.
    assert reasons(everything.replace("apiGroups: ['*']", "apiGroups: ['']")) == []


def test_no_shipped_task_reference_is_refused_by_its_own_scope() -> None:
    from kubebench.tasks.loader import load_tasks

    for split in ("test", "dev"):
        for task in load_tasks(split=split):
            docs = parse_documents(extract_yaml(task.reference).blocks)
            privileged = [
                v.reason for v in check_scope(docs, task, {}) if "does not ask for" in v.reason
            ]
            assert privileged == [], (task.id, privileged)
