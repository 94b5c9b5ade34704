"""Automatic mutations of a reference answer: small mistakes a grader must catch.

Each mutation returns a new answer text, or None where it does not apply to the task.
`mutations_for(task)` lists the applicable ones, most telling first (a wildcard where
the prompt forbids more, a corrupted Secret, a dropped verb, ...), so self-validation
can check that at least one of them fails an expectation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from kubebench.tasks.drafting import to_yaml
from kubebench.tasks.schema import AccessExpectation, Task

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
    return any(isinstance(e, AccessExpectation) and e.denied for e in task.expectations)


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
]


def mutations_for(task: Task) -> list[Mutation]:
    """Every applicable mutation of the task's reference, most telling first."""
    out = []
    for name, mutate in MUTATORS:
        result = mutate(task, copy.deepcopy(reference_objects(task)))
        if result is not None:
            out.append(Mutation(name, to_yaml(result)))
    return out
