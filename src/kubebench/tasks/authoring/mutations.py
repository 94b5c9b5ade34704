"""Automatic mutations of a reference answer: small mistakes a grader must catch.

Each mutation returns a new answer text, or None where it does not apply to the task.
`mutations_for(task)` lists the applicable ones, most telling first (a wildcard where
the prompt forbids more, a corrupted Secret, a dropped verb, ...), so self-validation
can check that at least one of them fails an expectation.

`OVER_GRANTS` are the over-permissive ones (an extra verb, an extra resource in a rule, a
wildcard resource, an extra subject, a Role widened to a ClusterRole): each must fail
every task whose prompt names its grant (`names_its_grant`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from kubebench.tasks.authoring.drafting import RBAC, to_yaml
from kubebench.tasks.schema import (
    AccessExpectation,
    PermissionsExpectation,
    SubjectsExpectation,
    Task,
)

Objects = list[dict[str, Any]]


@dataclass(frozen=True)
class Mutation:
    name: str
    answer: str


def reference_objects(task: Task) -> Objects:
    return [d for d in yaml.safe_load_all(task.reference) if d]


def _primary(task: Task, objects: Objects) -> dict[str, Any]:
    """The object of the task's own kind (the first one), else the first object."""
    return next((o for o in objects if o["kind"] == task.category.value), objects[0])


def _has_denied_checks(task: Task) -> bool:
    return any(
        isinstance(e, PermissionsExpectation) or (isinstance(e, AccessExpectation) and e.denied)
        for e in task.expectations
    )


def names_its_grant(task: Task) -> bool:
    """The prompt names the permissions to grant (the task checks them exactly)."""
    return any(isinstance(e, PermissionsExpectation) for e in task.expectations)


def restricts_subjects(task: Task) -> bool:
    """The prompt names who gets the grant (the task checks who gains access)."""
    return any(isinstance(e, SubjectsExpectation) for e in task.expectations)


def _resource_rules(objects: Objects) -> list[dict[str, Any]]:
    return [
        rule
        for obj in objects
        if obj["kind"] in ("Role", "ClusterRole")
        for rule in obj.get("rules") or []
        if rule.get("resources")
    ]


# Resources each API group serves, to add one a rule does not list yet (a resource the
# group does not serve would grant nothing, and a grader is right to ignore it).
_GROUP_RESOURCES = {
    "": ("secrets", "configmaps", "pods", "services"),
    "apps": ("statefulsets", "daemonsets", "deployments", "replicasets"),
    "batch": ("cronjobs", "jobs"),
    "networking.k8s.io": ("networkpolicies", "ingresses"),
    RBAC: ("rolebindings", "roles", "clusterrolebindings", "clusterroles"),
    "storage.k8s.io": ("storageclasses", "volumeattachments", "csidrivers"),
    "admissionregistration.k8s.io": (
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    ),
}
_EXTRA_VERBS = ("delete", "deletecollection", "create", "update", "patch", "list", "get")


def _granted_verbs(objects: Objects) -> set[tuple[str, str, str]]:
    """(group or "url", resource or URL, verb) for every rule of the answer."""
    out = set()
    for obj in objects:
        for rule in obj.get("rules") or []:
            targets = [("url", u) for u in rule.get("nonResourceURLs") or []] + [
                (g, r) for g in rule.get("apiGroups") or [] for r in rule.get("resources") or []
            ]
            out |= {(g, r, v) for g, r in targets for v in rule.get("verbs") or []}
    return out


def add_extra_verb(task: Task, objects: Objects) -> Objects | None:
    """One verb more on the first rule (URL rules included) that no rule grants on its
    first resource yet: `delete` where it is not granted, else the next one."""
    if not names_its_grant(task):
        return None
    granted = _granted_verbs(objects)
    for obj in objects:
        for rule in obj.get("rules") or []:
            urls, groups = rule.get("nonResourceURLs"), rule.get("apiGroups") or [""]
            first = ("url", urls[0]) if urls else (groups[0], (rule.get("resources") or [""])[0])
            extra = next((v for v in _EXTRA_VERBS if (*first, v) not in granted), None)
            if extra:
                rule["verbs"] = [*rule["verbs"], extra]
                return objects
    return None


def add_extra_resource(task: Task, objects: Objects) -> Objects | None:
    """One resource more in the first resource rule: one its API group serves that no
    rule of the answer grants yet."""
    if not names_its_grant(task):
        return None
    rules = _resource_rules(objects)
    granted = {
        (g, r) for rule in rules for g in rule.get("apiGroups") or [] for r in rule["resources"]
    }
    for rule in rules:
        for group in rule.get("apiGroups") or []:
            extra = [r for r in _GROUP_RESOURCES.get(group, ()) if (group, r) not in granted]
            if extra:
                rule["resources"] = [*rule["resources"], extra[0]]
                return objects
    if rules:  # groups with one resource each: add a core resource and the core group
        extra = next(r for r in _GROUP_RESOURCES[""] if ("", r) not in granted)
        rules[0]["apiGroups"] = [*rules[0]["apiGroups"], ""]
        rules[0]["resources"] = [*rules[0]["resources"], extra]
        return objects
    return None


def add_wildcard_resource(task: Task, objects: Objects) -> Objects | None:
    """The first resource rule covers every resource of its groups (`resources: ["*"]`)."""
    if not names_its_grant(task):
        return None
    rules = _resource_rules(objects)
    if not rules:
        return None
    rules[0]["resources"] = ["*"]
    rules[0].pop("resourceNames", None)
    return objects


def add_extra_subject(task: Task, objects: Objects) -> Objects | None:
    """The first binding also names a user the prompt does not."""
    if not restricts_subjects(task):
        return None
    for obj in objects:
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            extra = {"kind": "User", "name": "kubebench-extra-user", "apiGroup": RBAC}
            obj["subjects"] = [*(obj.get("subjects") or []), extra]
            return objects
    return None


def widen_role_to_clusterrole(task: Task, objects: Objects) -> Objects | None:
    """Roles become ClusterRoles and RoleBindings ClusterRoleBindings: the same rules in
    every namespace."""
    if not (names_its_grant(task) or restricts_subjects(task)):
        return None
    changed = False
    for obj in objects:
        if obj["kind"] in ("Role", "RoleBinding"):
            obj["kind"] = "Cluster" + obj["kind"]
            obj["metadata"].pop("namespace", None)
            if "roleRef" in obj:
                obj["roleRef"]["kind"] = "ClusterRole"
            changed = True
    return objects if changed else None


def widen_to_wildcard(task: Task, objects: Objects) -> Objects | None:
    """Every rule's verbs become `*`: wrong wherever the prompt says what must not be allowed."""
    if not _has_denied_checks(task):
        return None
    changed = False
    for obj in objects:
        for rule in obj.get("rules") or []:
            rule["verbs"] = ["*"]
            changed = True
    return objects if changed else None


def corrupt_secret_value(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        values = obj.get("stringData") or {}
        for key in values:
            if key == ".dockerconfigjson":
                values[key] = values[key].replace('"password": "', '"password": "x')
            else:
                values[key] = values[key][::-1] + "x"
            return objects
    return None


def drop_verb(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        for rule in obj.get("rules") or []:
            if len(rule.get("verbs", [])) > 1:
                rule["verbs"] = rule["verbs"][:-1]
                return objects
            rule["verbs"] = ["list"] if rule["verbs"] != ["list"] else ["get"]
            return objects
    return None


def change_data_value(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj.get("data"):
            key = next(iter(obj["data"]))
            obj["data"][key] = obj["data"][key] + "-changed"
            return objects
        hard = (obj.get("spec") or {}).get("hard")
        if obj["kind"] == "ResourceQuota" and hard:
            key = next(iter(hard))
            value = str(hard[key])
            unit = "Gi" if value.endswith("Gi") else ""
            hard[key] = f"{int(value.removesuffix(unit)) + 1}{unit}"
            return objects
    return None


def drop_immutable(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        if obj.pop("immutable", None):
            return objects
    return None


def drop_label(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        labels = obj["metadata"].get("labels")
        if labels:
            labels.pop(next(iter(labels)))
            if not labels:
                del obj["metadata"]["labels"]
            return objects
    return None


def drop_annotation(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        annotations = obj["metadata"].get("annotations")
        if annotations:
            annotations.pop(next(iter(annotations)))
            if not annotations:
                del obj["metadata"]["annotations"]
            return objects
    return None


def change_role_ref(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        if "roleRef" in obj:
            obj["roleRef"]["name"] = obj["roleRef"]["name"] + "-typo"
            return objects
    return None


def drop_subject(task: Task, objects: Objects) -> Objects | None:
    for obj in objects:
        subjects = obj.get("subjects") or []
        if subjects:
            obj["subjects"] = subjects[1:] or [
                {
                    "kind": "User",
                    "name": "nobody-in-particular",
                    "apiGroup": "rbac.authorization.k8s.io",
                }
            ]
            return objects
    return None


def rename_primary(task: Task, objects: Objects) -> Objects | None:
    primary = _primary(task, objects)
    primary["metadata"]["name"] = primary["metadata"]["name"] + "-new"
    return objects


def drop_object(task: Task, objects: Objects) -> Objects | None:
    primary = _primary(task, objects)
    rest = [o for o in objects if o is not primary]
    return rest or None


MUTATORS: list[tuple[str, Callable[[Task, Objects], Objects | None]]] = [
    ("widen_to_wildcard", widen_to_wildcard),
    ("corrupt_secret_value", corrupt_secret_value),
    ("drop_verb", drop_verb),
    ("change_data_value", change_data_value),
    ("drop_immutable", drop_immutable),
    ("drop_subject", drop_subject),
    ("change_role_ref", change_role_ref),
    ("drop_label", drop_label),
    ("drop_annotation", drop_annotation),
    ("rename_primary", rename_primary),
    ("drop_object", drop_object),
    ("add_extra_verb", add_extra_verb),
    ("add_extra_resource", add_extra_resource),
    ("add_wildcard_resource", add_wildcard_resource),
    ("add_extra_subject", add_extra_subject),
    ("widen_role_to_clusterrole", widen_role_to_clusterrole),
]

OVER_GRANTS = (
    "add_extra_verb",
    "add_extra_resource",
    "add_wildcard_resource",
    "add_extra_subject",
    "widen_role_to_clusterrole",
)


def mutations_for(task: Task, names: Iterable[str] | None = None) -> list[Mutation]:
    """Every applicable mutation of the task's reference (or those named), most
    telling first."""
    wanted = None if names is None else set(names)
    out = []
    for name, mutate in MUTATORS:
        if wanted is not None and name not in wanted:
            continue
        result = mutate(task, copy.deepcopy(reference_objects(task)))
        if result is not None:
            out.append(Mutation(name, to_yaml(result)))
    return out
