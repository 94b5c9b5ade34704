"""What one attempt may touch: every name of the task's and the answer's, each
`ObjectId` computed once, here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubebench.cluster.client import ResourceInfo
from kubebench.grading.extract import extract_yaml
from kubebench.grading.objects import ObjectId, object_id
from kubebench.grading.parse import AnswerParseError, ParsedDocument, parse_documents
from kubebench.tasks.schema import ObjectExpectation, Task


@dataclass(frozen=True)
class PlannedObject:
    """An object the attempt writes (setup or answer) and its identity (None without a
    name: a generateName object is known by the name the server gives it)."""

    obj: Mapping[str, Any]
    oid: ObjectId | None

    def describe(self) -> str:
        return self.oid.describe() if self.oid else str(self.obj.get("kind"))


@dataclass
class AttemptPlan:
    """Every name one attempt may touch, and which of them the answer writes."""

    namespaces: set[str] = field(default_factory=set)
    objects: set[ObjectId] = field(default_factory=set)  # not Namespaces
    answer_writes: set[ObjectId] = field(default_factory=set)
    # (apiVersion, kind) of everything setup and the answer write, named or generated.
    kinds: set[tuple[str, str]] = field(default_factory=set)
    setup: list[PlannedObject] = field(default_factory=list)
    answer: list[PlannedObject] = field(default_factory=list)  # one per document

    def add(self, oid: ObjectId) -> None:
        if oid.is_namespace:
            self.namespaces.add(oid.name)
            return
        self.objects.add(oid)
        if oid.namespace is not None:
            self.namespaces.add(oid.namespace)

    def lock_keys(self) -> set[str]:
        return {f"ns:{n}" for n in self.namespaces} | {o.lock_key for o in self.objects}


def _reference_ids(task: Task, resources: Mapping[tuple[str, str], ResourceInfo]) -> list[ObjectId]:
    try:
        docs = parse_documents(extract_yaml(task.reference).blocks)
    except AnswerParseError:
        return []  # a broken reference is the task's self-validation's business
    return [oid for doc in docs if (oid := object_id(doc.obj, resources)) is not None]


def plan_attempt(
    task: Task,
    documents: list[ParsedDocument],
    resources: Mapping[tuple[str, str], ResourceInfo],
) -> AttemptPlan:
    """Every name the attempt may touch: the task's and the answer's."""
    plan = AttemptPlan(namespaces=set(task.namespaces))
    for obj in [*task.setup, *(doc.obj for doc in documents)]:
        plan.kinds.add((str(obj.get("apiVersion")), str(obj.get("kind"))))
    for obj in task.setup:
        planned = PlannedObject(obj, object_id(obj, resources))
        plan.setup.append(planned)
        if planned.oid is not None:
            plan.add(planned.oid)
    for exp in task.expectations:
        if isinstance(exp, ObjectExpectation):
            ref = exp.ref
            stub = {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": {"name": ref.name}}
            if ref.namespace:
                stub["metadata"]["namespace"] = ref.namespace
            if (oid := object_id(stub, resources)) is not None:
                plan.add(oid)
    for oid in _reference_ids(task, resources):
        plan.add(oid)
    for doc in documents:
        planned = PlannedObject(doc.obj, object_id(doc.obj, resources))
        plan.answer.append(planned)
        if planned.oid is not None:
            plan.add(planned.oid)
            plan.answer_writes.add(planned.oid)
    return plan
