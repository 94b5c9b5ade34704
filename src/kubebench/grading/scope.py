"""The scope allowlist: which documents of an answer may reach the cluster at all.

A document reaches the API server only when its kind is one the task allows (served in
that kind's own API group) and, for a namespaced kind, its namespace is one the task
names; a document without `metadata.namespace` goes to `default`, as kubectl would send
it. A Namespace document may only name one of the task's namespaces. Everything else
(webhook configurations, CRDs, APIServices, Pods, a ClusterRoleBinding where only a Role
is allowed, objects in kube-system) is refused before any request is made.

Within the allowed kinds, grants no task asks for are refused too, unless the task's
reference answer or setup makes the same grant: a binding to a system user or group
(`system:anonymous`, `system:authenticated`, `system:masters`, `system:serviceaccounts`,
`system:nodes`, ...), a binding to `cluster-admin`, and a role equivalent to it (every
verb on every resource of every API group) or able to become it (`impersonate`,
`escalate`, `bind`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubebench.cluster.client import ResourceInfo
from kubebench.grading.extract import extract_yaml
from kubebench.grading.parse import AnswerParseError, ParsedDocument, parse_documents
from kubebench.tasks.schema import Task

_RBAC = "rbac.authorization.k8s.io"
_BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})
_ROLES = frozenset({"Role", "ClusterRole"})
_CLUSTER_ADMIN = "cluster-admin"
# Verbs that let a subject grant itself anything (RBAC's escalation checks bypassed).
_ESCALATING_VERBS = ("impersonate", "escalate", "bind")
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
    "ResourceQuota": ("", True),
    "LimitRange": ("", True),
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


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _system_subjects(obj: Mapping[str, Any]) -> list[str]:
    """`Group system:masters`, ... : the system users and groups a binding names."""
    out = []
    subjects = obj.get("subjects") if isinstance(obj.get("subjects"), list) else []
    for subject in subjects:
        if not isinstance(subject, dict):
            continue
        kind, name = subject.get("kind"), subject.get("name")
        if kind in ("User", "Group") and isinstance(name, str) and name.startswith("system:"):
            out.append(f"{kind} {name}")
    return out


def _binds_cluster_admin(obj: Mapping[str, Any]) -> bool:
    ref = obj.get("roleRef")
    return isinstance(ref, dict) and ref.get("name") == _CLUSTER_ADMIN


def _admin_grants(obj: Mapping[str, Any]) -> list[str]:
    """What in a Role or ClusterRole amounts to cluster-admin (or a way to become it)."""
    out = []
    rules = obj.get("rules") if isinstance(obj.get("rules"), list) else []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        verbs = _strings(rule.get("verbs"))
        everything = ("*" in verbs) and "*" in _strings(rule.get("resources"))
        if everything and "*" in _strings(rule.get("apiGroups")):
            out.append("every verb on every resource")
        out += [f"the {verb} verb" for verb in _ESCALATING_VERBS if verb in verbs]
    return out


def _grants(objects: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The sensitive grants among objects, as comparable strings."""
    out: set[str] = set()
    for obj in objects:
        if obj.get("kind") in _BINDINGS:
            out.update(_system_subjects(obj))
            if _binds_cluster_admin(obj):
                out.add(_CLUSTER_ADMIN)
        elif obj.get("kind") in _ROLES:
            out.update(_admin_grants(obj))
    return frozenset(out)


@functools.lru_cache(maxsize=4096)
def _grants_asked(reference: str, setup: str) -> frozenset[str]:
    try:
        docs = [d.obj for d in parse_documents(extract_yaml(reference).blocks)]
    except AnswerParseError:
        docs = []
    return _grants([*docs, *json.loads(setup)])


def _task_grants(task: Task) -> frozenset[str]:
    """The sensitive grants the task asks for (its reference answer and setup make)."""
    return _grants_asked(task.reference, json.dumps(task.setup, sort_keys=True))


def _privilege_violation(doc: ParsedDocument, task: Task) -> str | None:
    if doc.kind not in _BINDINGS | _ROLES:
        return None
    asked = _task_grants(task)
    if doc.kind in _BINDINGS:
        for subject in _system_subjects(doc.obj):
            if subject not in asked:
                return (
                    f"binds {subject}, a system user or group the task does not ask for "
                    "(it covers a whole class of clients, anonymous ones included)"
                )
        if _binds_cluster_admin(doc.obj) and _CLUSTER_ADMIN not in asked:
            return "binds cluster-admin, which the task does not ask for"
        return None
    for grant in _admin_grants(doc.obj):
        if grant not in asked:
            return f"grants {grant}, which amounts to cluster-admin and the task does not ask for"
    return None


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
    return _privilege_violation(doc, task)


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
