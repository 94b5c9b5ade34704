"""`grade_answer`: the one code path from an answer's text to its Verdict.

extract -> safe parse -> scope -> (locks, clean baseline, setup) -> server-side dry-run
-> apply -> expectations -> cleanup. `kubebench grade`, the runner and the tasks'
self-validation all call it. It is safe to run many at once on one event loop: attempts
whose names collide wait for each other (see `kubebench.grading.sandbox`).

Model failures become a Verdict with the stage and a one-line reason; a failure of the
cluster (`InfrastructureError`) becomes `Verdict.infrastructure_error`, never raised, so
the runner can retry it. Cleanup runs even when the caller is cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient, ResourceInfo
from kubebench.errors import InfrastructureError
from kubebench.grading.expectations import evaluate_expectations
from kubebench.grading.extract import extract_yaml
from kubebench.grading.parse import (
    AnswerParseError,
    ParsedDocument,
    ParseLimits,
    decode_answer,
    parse_documents,
)
from kubebench.grading.plan import PlannedObject, plan_attempt
from kubebench.grading.sandbox import Sandbox, WriteResult, settle_cleanups
from kubebench.grading.scope import check_scope, target_namespace
from kubebench.grading.teardown import controller_kinds, sweep_resources
from kubebench.grading.verdict import DocumentResult, ExpectationResult, Stage, Verdict
from kubebench.tasks.schema import Task

__all__ = ["grade_answer", "plan_attempt", "settle_cleanups"]


@dataclass
class _Clock:
    """Per-stage timings in seconds."""

    start: float = field(default_factory=time.perf_counter)
    last: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self.last, 6)
        self.last = now

    def total(self) -> dict[str, float]:
        self.timings["total"] = round(time.perf_counter() - self.start, 6)
        return self.timings


def _document_result(
    doc: ParsedDocument, resources: Mapping[tuple[str, str], ResourceInfo]
) -> DocumentResult:
    return DocumentResult(
        index=doc.index,
        api_version=doc.api_version,
        kind=doc.kind,
        name=doc.name,
        namespace=target_namespace(doc, resources),
    )


def _server_said(result: DocumentResult) -> str:
    """The server's message, with every cause it lists that the message leaves out."""
    missing = [cause for cause in result.causes if cause not in result.message]
    return "; ".join([result.message, *missing]) if missing else result.message


class _Attempt:
    """The cluster half of one grade, inside the sandbox: setup, dry-run, apply,
    expectations."""

    def __init__(
        self,
        task: Task,
        box: Sandbox,
        documents: list[ParsedDocument],
        results: list[DocumentResult],
    ) -> None:
        self.task = task
        self.box = box
        self.documents = documents
        self.results = results
        self.stage = Stage.dry_run  # where an infrastructure error would be reported

    def _planned(self, doc: ParsedDocument) -> PlannedObject:
        return self.box.plan.answer[doc.index]

    def _record(self, doc: ParsedDocument, said: WriteResult) -> None:
        result = self.results[doc.index]
        result.message, result.reason, result.causes = said.message, said.reason, said.causes

    async def setup(self) -> None:
        """Create the task's setup objects (namespaces first); a failure is the task's,
        reported as an infrastructure error, never as the model's."""
        todo = [p for p in self.box.plan.setup if not (p.oid and self.box.is_foreign(p.oid))]
        # e.g. `default` is foreign: it exists and is not ours to change.
        namespaces = [p for p in todo if p.obj.get("kind") == "Namespace"]
        others = [p for p in todo if p.obj.get("kind") != "Namespace"]
        for batch in (namespaces, others):
            outcomes = await asyncio.gather(*(self.box.write(p, dry_run=False) for p in batch))
            for planned, said in zip(batch, outcomes, strict=True):
                if not said.ok:
                    raise InfrastructureError(
                        f"task {self.task.id} setup failed on {planned.describe()}: {said.message}",
                        hint="the task's setup is invalid on this cluster",
                    )

    async def _dry_run(self, docs: list[ParsedDocument]) -> None:
        outcomes = await asyncio.gather(
            *(self.box.write(self._planned(d), dry_run=True) for d in docs)
        )
        for doc, said in zip(docs, outcomes, strict=True):
            result = self.results[doc.index]
            result.dry_run_ok, result.warnings = said.ok, said.warnings
            self._record(doc, said)

    async def _apply(self, docs: list[ParsedDocument]) -> None:
        # The same object written twice is applied in answer order; others at once.
        groups: dict[tuple[str, ...], list[ParsedDocument]] = defaultdict(list)
        for doc in docs:
            oid = self._planned(doc).oid
            key = (oid.state_key,) if oid else (f"#{doc.index}",)
            groups[key].append(doc)

        async def apply_in_order(group: list[ParsedDocument]) -> None:
            for doc in group:
                said = await self.box.write(self._planned(doc), dry_run=False)
                result = self.results[doc.index]
                result.applied = said.ok
                if not said.ok:
                    self._record(doc, said)
                result.warnings = sorted(set(result.warnings) | set(said.warnings))

        await asyncio.gather(*(apply_in_order(g) for g in groups.values()))

    def _first_failure(self, docs: list[ParsedDocument], flag: str) -> str:
        for doc in docs:
            result = self.results[doc.index]
            if not getattr(result, flag):
                verb = "failed server-side dry-run" if flag == "dry_run_ok" else "failed to apply"
                return f"{doc.describe()} {verb}: {_server_said(result)}"
        return ""

    async def run(self, clock: _Clock) -> tuple[Stage, str, bool, list[ExpectationResult]]:
        """(stage, reason, runtime_valid, expectation results)."""
        if self.box.foreign_writes:
            names = ", ".join(oid.describe() for oid in self.box.foreign_writes)
            reason = (
                f"the answer would overwrite {names}, which existed before KubeBench and "
                "is not the task's to change"
            )
            return Stage.scope, reason, False, []
        await self.setup()
        clock.lap("setup")
        # Namespaces of the answer must exist before its namespaced objects can be
        # dry-run (NamespaceLifecycle admission), so they are dry-run and applied first.
        namespaces = [d for d in self.documents if d.kind == "Namespace" and d.api_version == "v1"]
        first = {d.index for d in namespaces}
        others = [d for d in self.documents if d.index not in first]
        await self._dry_run(namespaces)
        await self._apply([d for d in namespaces if self.results[d.index].dry_run_ok])
        if reason := self._first_failure(
            [d for d in namespaces if self.results[d.index].dry_run_ok], "applied"
        ):
            clock.lap("dry_run")
            return Stage.apply, reason, False, []
        await self._dry_run(others)
        clock.lap("dry_run")
        if reason := self._first_failure(self.documents, "dry_run_ok"):
            return Stage.dry_run, reason, False, []
        self.stage = Stage.apply
        await self._apply(others)
        clock.lap("apply")
        if reason := self._first_failure(self.documents, "applied"):
            return Stage.apply, reason, True, []
        self.stage = Stage.expectations
        expectations = await evaluate_expectations(
            self.task,
            self.box.kube,
            deadline_s=defaults.EXPECTATION_DEADLINE_S,
            answer=[d.obj for d in self.documents],
        )
        clock.lap("expectations")
        failed = [r for r in expectations if not r.passed]
        if failed:
            first_failed = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            reason = f"expectation {first_failed.index + 1} failed: {first_failed.description}"
            reason += f": {first_failed.reason}{more}" if first_failed.reason else more
            return Stage.expectations, reason, True, expectations
        return Stage.passed, "", True, expectations


async def grade_answer(
    task: Task,
    answer: str | bytes,
    kube: KubeClient,
    *,
    limits: ParseLimits | None = None,
    wait_for_cleanup: bool = False,
) -> Verdict:
    """Grade one answer to `task` on the live API server behind `kube`.

    Returns once the attempt's deletes are sent; its names stay locked until they are
    gone, so a later attempt on the same names waits for that. `wait_for_cleanup=True`
    returns only when they are gone; `settle_cleanups()` waits for all of them.
    """
    clock = _Clock()

    def verdict(stage: Stage, reason: str = "", **fields: Any) -> Verdict:
        return Verdict(task_id=task.id, stage=stage, reason=reason, timings=clock.total(), **fields)

    try:
        text = decode_answer(answer, limits=limits)
    except AnswerParseError as exc:
        clock.lap("parse")
        return verdict(Stage.parse, exc.reason)
    extraction = extract_yaml(text)
    clock.lap("extract")
    prose = extraction.prose
    if not text.strip():
        return verdict(Stage.extract, "the answer is empty")
    if not extraction.blocks:
        return verdict(Stage.extract, "no YAML found in the answer", prose=prose)
    try:
        documents = parse_documents(extraction.blocks, limits=limits)
    except AnswerParseError as exc:
        clock.lap("parse")
        return verdict(Stage.parse, exc.reason, prose=prose)
    clock.lap("parse")
    if not documents:
        return verdict(Stage.extract, "the answer's YAML holds no documents", prose=prose)

    try:
        resources = await kube.discover()  # cached by the client after the first call
        clock.lap("discovery")
    except InfrastructureError as exc:
        return verdict(
            Stage.scope, exc.one_line(), prose=prose, infrastructure_error=exc.one_line()
        )
    results = [_document_result(doc, resources) for doc in documents]
    violations = check_scope(documents, task, resources)
    clock.lap("scope")
    if violations:
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        return verdict(Stage.scope, violations[0].reason + more, documents=results, prose=prose)

    content_kinds = {*task.allowed_kinds, *(str(o.get("kind")) for o in task.setup)}
    sandbox = Sandbox(
        kube,
        plan_attempt(task, documents, resources),
        resources,
        sweep_resources(content_kinds, resources, controller_kinds(kube)),
        wait_for_cleanup=wait_for_cleanup,
        lap=clock.lap,
    )
    stage, reason, runtime_valid = Stage.dry_run, "", False
    expectations: list[ExpectationResult] = []
    infrastructure_error: str | None = None
    try:
        # Entering holds the grader Lease and the names and cleans the baseline;
        # leaving starts the cleanup (see kubebench.grading.sandbox).
        async with sandbox as box:
            attempt = _Attempt(task, box, documents, results)
            try:
                stage, reason, runtime_valid, expectations = await attempt.run(clock)
                if not box.lease_intact():
                    raise InfrastructureError(
                        "another KubeBench process took the grader Lease over during the "
                        "attempt (this one stalled past its renewal?): not graded; retry"
                    )
            except InfrastructureError as exc:
                infrastructure_error = exc.one_line()
                stage = attempt.stage
                clock.lap(stage.value)
    except InfrastructureError as exc:  # holding the Lease, or the baseline
        infrastructure_error = exc.one_line()
    if infrastructure_error is not None:
        reason = infrastructure_error
    return verdict(
        stage,
        reason,
        runtime_valid=runtime_valid,
        operational_valid=stage == Stage.passed,
        documents=results,
        expectations=expectations,
        prose=prose,
        infrastructure_error=infrastructure_error,
        cleanup_error=sandbox.cleanup_error,
    )
