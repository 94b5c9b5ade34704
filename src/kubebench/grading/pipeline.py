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
from kubebench.cluster.client import KubeClient, ResourceInfo, unknown_kind_response
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
from kubebench.grading.sandbox import (
    AttemptPlan,
    ObjectId,
    Sandbox,
    controller_kinds,
    object_id,
    server_state,
    sweep_resources,
)
from kubebench.grading.scope import check_scope, target_namespace
from kubebench.grading.verdict import DocumentResult, ExpectationResult, Stage, Verdict
from kubebench.tasks.schema import ObjectExpectation, Task

_TERMINATING = "because it is being terminated"

# Cleanups that outlived a cancelled attempt; kept referenced until they finish.
_BACKGROUND: set[asyncio.Task[Any]] = set()


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
        if (oid := object_id(obj, resources)) is not None:
            plan.add(oid)
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
        if (oid := object_id(doc.obj, resources)) is not None:
            plan.add(oid)
            plan.answer_writes.add(oid)
    return plan


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


class _Attempt:
    """The cluster half of one grade: setup, dry-run, apply, expectations."""

    def __init__(
        self,
        task: Task,
        kube: KubeClient,
        sandbox: Sandbox,
        documents: list[ParsedDocument],
        results: list[DocumentResult],
        resources: Mapping[tuple[str, str], ResourceInfo],
    ) -> None:
        self.task = task
        self.kube = kube
        self.sandbox = sandbox
        self.documents = documents
        self.results = results
        self.resources = resources
        self.stage = Stage.dry_run  # where an infrastructure error would be reported

    async def _write(self, obj: Mapping[str, Any], *, dry_run: bool) -> tuple[bool, str, list]:
        """Server-side apply (dry-run or real) of one object: (ok, message, warnings)."""
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        if (api_version, kind) not in self.resources:
            return False, unknown_kind_response(api_version, kind).message, []
        deadline = time.monotonic() + defaults.NAMESPACE_CACHE_LAG_S
        sent = self.sandbox.labelled(obj)
        while True:
            try:
                resp = await self.kube.apply(sent, dry_run=dry_run)
            except (InfrastructureError, asyncio.CancelledError):
                # The server may have written the object even though no answer came back
                # (a cancelled attempt, too): cleanup must then look for it by name.
                if not dry_run:
                    self.sandbox.uncertain = True
                raise
            # Right after the previous attempt removed this namespace, admission's cache
            # may still show the old one terminating; no namespace of a running attempt
            # is ever deleted, so this refusal is never the answer's doing.
            lagging = resp.status_code == 403 and _TERMINATING in resp.message
            if not lagging or time.monotonic() > deadline:
                break
            await asyncio.sleep(defaults.POLL_INTERVAL_S)
        if resp.ok and not dry_run:
            oid = object_id(resp.body or obj, self.resources)
            if oid is not None:
                stale = (
                    resp.status_code == 200  # updated, not created (201)
                    and oid.state_key in self.sandbox.owned
                    and oid not in self.sandbox.written
                )
                self.sandbox.track(oid, obj)
                if stale:
                    # Someone wrote it since this process listed the cluster: its content
                    # is unknown, so the namespace controller must sweep it on cleanup.
                    self.sandbox.uncertain, self.sandbox.sweep = True, None
                    raise InfrastructureError(
                        f"{oid.describe()} already existed although the baseline found it "
                        "absent: another writer on this cluster? It is removed; retry"
                    )
        return resp.ok, "" if resp.ok else resp.message, resp.warnings

    async def setup(self) -> None:
        """Create the task's setup objects (namespaces first); a failure is the task's,
        reported as an infrastructure error, never as the model's."""
        namespaces = [o for o in self.task.setup if o.get("kind") == "Namespace"]
        others = [o for o in self.task.setup if o.get("kind") != "Namespace"]
        for batch in (namespaces, others):
            todo = []
            for obj in batch:
                oid = object_id(obj, self.resources)
                if oid is not None and self.sandbox.is_foreign(oid):
                    continue  # e.g. `default`: it exists and is not ours to change
                todo.append(obj)
            outcomes = await asyncio.gather(*(self._write(o, dry_run=False) for o in todo))
            for obj, (ok, message, _) in zip(todo, outcomes, strict=True):
                if not ok:
                    oid = object_id(obj, self.resources)
                    what = oid.describe() if oid else str(obj.get("kind"))
                    raise InfrastructureError(
                        f"task {self.task.id} setup failed on {what}: {message}",
                        hint="the task's setup is invalid on this cluster",
                    )

    async def _dry_run(self, docs: list[ParsedDocument]) -> None:
        outcomes = await asyncio.gather(*(self._write(d.obj, dry_run=True) for d in docs))
        for doc, (ok, message, warnings) in zip(docs, outcomes, strict=True):
            result = self.results[doc.index]
            result.dry_run_ok, result.message, result.warnings = ok, message, warnings

    async def _apply(self, docs: list[ParsedDocument]) -> None:
        # The same object written twice is applied in answer order; others at once.
        groups: dict[tuple[str, ...], list[ParsedDocument]] = defaultdict(list)
        for doc in docs:
            oid = object_id(doc.obj, self.resources)
            key = (oid.state_key,) if oid else (f"#{doc.index}",)
            groups[key].append(doc)

        async def apply_in_order(group: list[ParsedDocument]) -> None:
            for doc in group:
                ok, message, warnings = await self._write(doc.obj, dry_run=False)
                result = self.results[doc.index]
                result.applied = ok
                if not ok:
                    result.message = message
                result.warnings = sorted(set(result.warnings) | set(warnings))

        await asyncio.gather(*(apply_in_order(g) for g in groups.values()))

    def _first_failure(self, docs: list[ParsedDocument], flag: str) -> str:
        for doc in docs:
            result = self.results[doc.index]
            if not getattr(result, flag):
                verb = "failed server-side dry-run" if flag == "dry_run_ok" else "failed to apply"
                return f"{doc.describe()} {verb}: {result.message}"
        return ""

    async def run(self, clock: _Clock) -> tuple[Stage, str, bool, list[ExpectationResult]]:
        """(stage, reason, runtime_valid, expectation results)."""
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
            self.kube,
            deadline_s=defaults.EXPECTATION_DEADLINE_S,
            answer=[d.obj for d in self.documents],
        )
        clock.lap("expectations")
        failed = [r for r in expectations if not r.passed]
        if failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            reason = f"expectation {first.index + 1} failed: {first.description}"
            reason += f": {first.reason}{more}" if first.reason else more
            return Stage.expectations, reason, True, expectations
        return Stage.passed, "", True, expectations


class _Cleanup:
    """One attempt's cleanup as a task of its own: cancelling the attempt never stops it.
    `issued` is set once the attempt's objects are deleted (namespaces torn down); the
    task then waits for any deletion still pending before it gives the name locks back."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.issued = asyncio.Event()
        self.issue_error: str | None = None

    async def run(self) -> str | None:
        pending: list[ObjectId] = []
        error: str | None = "cleanup was interrupted"
        try:
            pending = await self.sandbox.start_cleanup()
            error = None
        except InfrastructureError as exc:
            error = exc.one_line()
        finally:
            self.issue_error = error
            self.issued.set()
            error = await self.sandbox.finish_cleanup(pending, error)
            if error:
                self.sandbox.state.cleanup_errors.append(error)
        return error

    def start(self) -> asyncio.Task[str | None]:
        task = asyncio.ensure_future(self.run())
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        return task


async def settle_cleanups(kube: KubeClient) -> list[str]:
    """Wait until every cleanup on this event loop has finished (their objects are gone
    and their locks free); return the errors they met since the last call. Call it
    before closing `kube` or reading the cluster after grading."""
    loop = asyncio.get_running_loop()
    while mine := [t for t in _BACKGROUND if t.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)
    errors = server_state(kube).cleanup_errors
    out, errors[:] = list(errors), []
    return out


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
        sweep_resources(content_kinds, resources, controller_kinds(kube)),
    )
    attempt = _Attempt(task, kube, sandbox, documents, results, resources)
    stage, reason, runtime_valid = Stage.dry_run, "", False
    expectations: list[ExpectationResult] = []
    infrastructure_error: str | None = None
    cleanup_error: str | None = None
    try:
        try:
            await sandbox.acquire()  # the grader Lease, then the names
            clock.lap("lock_wait")
            foreign = await sandbox.prepare()
            clock.lap("baseline")
            if foreign:
                names = ", ".join(oid.describe() for oid in foreign)
                stage = Stage.scope
                reason = (
                    f"the answer would overwrite {names}, which existed before KubeBench and "
                    "is not the task's to change"
                )
            else:
                stage, reason, runtime_valid, expectations = await attempt.run(clock)
            if not sandbox.lease_intact():
                raise InfrastructureError(
                    "another KubeBench process took the grader Lease over during the "
                    "attempt (this one stalled past its renewal?): not graded; retry"
                )
        except InfrastructureError as exc:
            infrastructure_error = exc.one_line()
            stage, reason = attempt.stage, infrastructure_error
            clock.lap(stage.value)
    finally:
        cleanup = _Cleanup(sandbox)
        cleanup_task = cleanup.start()
        if wait_for_cleanup:
            cleanup_error = await asyncio.shield(cleanup_task)
        else:
            await asyncio.shield(cleanup.issued.wait())
            cleanup_error = cleanup.issue_error
        clock.lap("cleanup")
    return verdict(
        stage,
        reason,
        runtime_valid=runtime_valid,
        operational_valid=stage == Stage.passed,
        documents=results,
        expectations=expectations,
        prose=prose,
        infrastructure_error=infrastructure_error,
        cleanup_error=cleanup_error,
    )
