"""The scope allowlist: which documents of an answer may reach the cluster at all.

A document reaches the API server only when its kind is one the task allows (served in
that kind's own API group) and, for a namespaced kind, its namespace is one the task
names; a document without `metadata.namespace` goes to `default`, as kubectl would send
it. A Namespace document may only name one of the task's namespaces. Everything else
(webhook configurations, CRDs, APIServices, Pods, a ClusterRoleBinding where only a Role
is allowed, objects in kube-system) is refused before any request is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubebench.cluster.client import ResourceInfo
from kubebench.grading.parse import ParsedDocument
from kubebench.tasks.schema import Task

_RBAC = "rbac.authorization.k8s.io"
# The API group each kind a task may allow belongs to, and whether it is namespaced;
# used when discovery does not know a document's apiVersion.
KNOWN_KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("", False),
    "ConfigMap": ("", True),
    "Secret": ("", True),
    "ServiceAccount": ("", True),
    "Role": (_RBAC, True),
    "RoleBinding": (_RBAC, True),
    "ClusterRole": (_RBAC, False),
    "ClusterRoleBinding": (_RBAC, False),
}


@dataclass(frozen=True)
class ScopeViolation:
    """One document refused by the scope check, and why."""

    document: ParsedDocument
    reason: str


def group_of(api_version: str) -> str:
    """`rbac.authorization.k8s.io/v1` -> `rbac.authorization.k8s.io`; `v1` -> ``."""
    return api_version.rpartition("/")[0]


def is_namespaced(
    api_version: str, kind: str, resources: Mapping[tuple[str, str], ResourceInfo]
) -> bool:
    """Whether a kind is namespaced: discovery first, then the known kinds, else True."""
    info = resources.get((api_version, kind))
    if info is not None:
        return info.namespaced
    return KNOWN_KINDS.get(kind, ("", True))[1]


def target_namespace(
    doc: ParsedDocument, resources: Mapping[tuple[str, str], ResourceInfo]
) -> str | None:
    """The namespace a document would be written to (None for cluster-scoped kinds)."""
    if not is_namespaced(doc.api_version, doc.kind, resources):
        return None
    return doc.namespace or "default"


def _violation(
    doc: ParsedDocument, task: Task, resources: Mapping[tuple[str, str], ResourceInfo]
) -> str | None:
    allowed = ", ".join(task.allowed_kinds) or "none"
    if doc.kind not in task.allowed_kinds:
        return f"kind {doc.kind} is not allowed for this task (allowed: {allowed})"
    info = resources.get((doc.api_version, doc.kind))
    expected_group = KNOWN_KINDS.get(doc.kind, (None, True))[0]
    if info is not None and expected_group is not None and info.group != expected_group:
        return (
            f"apiVersion {doc.api_version} serves a different {doc.kind} than the task "
            f"allows (group {expected_group or 'core'})"
        )
    names = ", ".join(task.namespaces) or "none"
    if doc.kind == "Namespace" and not group_of(doc.api_version):
        if doc.name and doc.name not in task.namespaces:
            return f"namespace {doc.name} is not one the task names (allowed: {names})"
        return None
    namespace = target_namespace(doc, resources)
    if namespace is not None and namespace not in task.namespaces:
        implicit = "" if doc.namespace else " (no metadata.namespace, so kubectl would use it)"
        return (
            f"targets namespace {namespace}{implicit}, which the task does not name "
            f"(allowed: {names})"
        )
    return None


def check_scope(
    documents: list[ParsedDocument],
    task: Task,
    resources: Mapping[tuple[str, str], ResourceInfo],
) -> list[ScopeViolation]:
    """Every document the task's scope refuses, in answer order (empty: all in scope)."""
    out = []
    for doc in documents:
        reason = _violation(doc, task, resources)
        if reason is not None:
            out.append(ScopeViolation(doc, f"{doc.describe()}: {reason}"))
    return out
