"""Equivalent rewrites of a reference answer: different text, same objects on the server.

A grader that rejects any of these would be grading spelling, not configuration:
reordered keys, flow style, `data` (base64) instead of `stringData`, defaulted fields
left out, comments, a `kind: List` instead of several documents (and back), and the
YAML wrapped in a chatty Markdown answer.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from kubebench.tasks.authoring.drafting import RBAC, to_yaml
from kubebench.tasks.authoring.mutations import Objects, reference_objects
from kubebench.tasks.schema import Task


@dataclass(frozen=True)
class Rewrite:
    name: str
    answer: str


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def reorder_keys(objects: Objects) -> str:
    return to_yaml([_reverse_keys(o) for o in objects])


def flow_style(objects: Objects) -> str:
    """Flow-style YAML, fenced: bare `{...}` lines read as prose, not YAML, to a grader."""
    text = "---\n".join(
        yaml.safe_dump(o, default_flow_style=True, sort_keys=False, width=100000) for o in objects
    )
    return f"```yaml\n{text}```\n"


def string_data_as_data(objects: Objects) -> Objects:
    """Secrets with base64 `data` instead of `stringData`."""
    out = copy.deepcopy(objects)
    for obj in out:
        if obj["kind"] == "Secret" and "stringData" in obj:
            values = obj.pop("stringData")
            obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    return out


def omit_defaults(objects: Objects) -> Objects:
    """Leave out what the API server defaults: Secret type Opaque, a User's or Group's
    `apiGroup`, and a RoleBinding ServiceAccount subject's own namespace."""
    out = copy.deepcopy(objects)
    for obj in out:
        if obj["kind"] == "Secret" and obj.get("type") == "Opaque":
            del obj["type"]
        for subject in obj.get("subjects") or []:
            if subject["kind"] in ("User", "Group") and subject.get("apiGroup") == RBAC:
                del subject["apiGroup"]
            same_ns = subject.get("namespace") == obj["metadata"].get("namespace")
            if obj["kind"] == "RoleBinding" and subject["kind"] == "ServiceAccount" and same_ns:
                del subject["namespace"]
    return out


def with_comments(objects: Objects) -> str:
    lines = ["# Generated for the ticket; reviewed by platform."]
    for i, line in enumerate(to_yaml(objects).splitlines()):
        lines.append(line)
        if line.startswith("metadata:") and i % 2 == 0:
            lines.append("  # names follow the team convention")
        if line == "---":
            lines.append("# next object")
    return "\n".join(lines) + "\n"


def as_list(objects: Objects) -> str:
    return to_yaml([{"apiVersion": "v1", "kind": "List", "items": objects}])


def as_documents(objects: Objects) -> str:
    return "\n".join(f"---\n{to_yaml([o])}" for o in objects)


def in_markdown(objects: Objects) -> str:
    return (
        "Sure, here is the manifest. Apply it with `kubectl apply -f`.\n\n"
        f"```yaml\n{to_yaml(objects)}```\n\nLet me know if you need anything else."
    )


REWRITERS: list[tuple[str, Callable[[Objects], str]]] = [
    ("reorder_keys", reorder_keys),
    ("flow_style", flow_style),
    ("string_data_as_data", lambda objs: to_yaml(string_data_as_data(objs))),
    ("omit_defaults", lambda objs: to_yaml(omit_defaults(objs))),
    ("with_comments", with_comments),
    ("as_list", as_list),
    ("as_documents", as_documents),
    ("in_markdown", in_markdown),
    # All at once: a List of flow-style objects with base64 data and defaults left out.
    (
        "combined",
        lambda objs: flow_style(
            [
                {
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": [_reverse_keys(o) for o in omit_defaults(string_data_as_data(objs))],
                }
            ]
        ),
    ),
]


def rewrites_for(task: Task, names: list[str] | None = None) -> list[Rewrite]:
    """Equivalent rewrites of the task's reference (all, or those named)."""
    objects = reference_objects(task)
    return [
        Rewrite(name, rewrite(copy.deepcopy(objects)))
        for name, rewrite in REWRITERS
        if names is None or name in names
    ]
