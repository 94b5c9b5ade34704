"""Isolation of one attempt, through one door:

    async with Sandbox(kube, plan, resources, sweep) as box:
        if not box.foreign_writes:
            result = await box.write(planned, dry_run=True)

Entering holds the grader Lease and the locks of every name the attempt may touch
(`plan.AttemptPlan`), and makes the baseline clean: each name is found absent or made
absent (a crashed run's leftover is deleted) before the attempt starts. Leaving deletes
what the attempt wrote, in a task of its own that cancelling the attempt never stops;
the locks go back only once the deletions are confirmed (`settle_cleanups` waits for
every such cleanup).

Objects that existed before KubeBench (no `kubebench` field manager on them: kube-system,
`default`, the `cluster-admin` ClusterRole, ...) are foreign: never written, never deleted.
An answer that would write one is refused as out of scope (`box.foreign_writes`).

Every object an attempt writes carries the label `kubebench.io/attempt`. One process
grades on a cluster at a time, through the grader Lease (`grader_lease`): the locks and
what is known are per process (`server_state`), and a process that takes the Lease over
from another first removes every labelled object (`teardown.sweep_labelled`: what a
killed grader left, generateName objects included); no live grader's objects exist then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient, ResourceInfo, unknown_kind_response
from kubebench.errors import InfrastructureError
from kubebench.grading.locks import HeldNames
from kubebench.grading.objects import (
    ObjectId,
    has_finalizers,
    labelled,
    namespace_id,
    object_id,
    written_by_kubebench,
)
from kubebench.grading.plan import AttemptPlan, PlannedObject
from kubebench.grading.server_state import read_object, server_state
from kubebench.grading.teardown import (
    await_removal,
    controller_kinds,
    issue_removal,
    list_labelled,
    remove_objects,
    sweep_labelled,
)

_TERMINATING = "because it is being terminated"

# Cleanups that outlived their attempt; kept referenced until they finish.
_BACKGROUND: set[asyncio.Task[Any]] = set()


@dataclass
class WriteResult:
    """What the API server said of one write: its message, reason and every cause
    (one per invalid field), and its warnings."""

    ok: bool
    message: str = ""
    reason: str = ""
    causes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Sandbox:
    """One attempt's isolation; see the module doc. `foreign_writes` (set on entry) are
    the foreign objects the answer would write; `cleanup_error` (set on exit) says what
    could not be removed."""

    def __init__(
        self,
        kube: KubeClient,
        plan: AttemptPlan,
        resources: Mapping[tuple[str, str], ResourceInfo],
        sweep: list[ResourceInfo] | None = None,
        *,
        wait_for_cleanup: bool = False,
        lap: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.kube = kube
        self.plan = plan
        self.foreign_writes: list[ObjectId] = []
        self.cleanup_error: str | None = None
        self._resources = resources
        # Collections that may hold anything of this attempt's in its namespaces.
        self._sweep = sweep
        self._wait_for_cleanup = wait_for_cleanup
        self._lap = lap
        self._state = server_state(kube)
        self._held: HeldNames | None = None
        self._written: dict[ObjectId, Mapping[str, Any]] = {}
        # State keys the baseline found absent or cleared: this attempt's to delete.
        self._owned: set[str] = set()
        self._targets: dict[ObjectId, Mapping[str, Any] | None] = {}
        # Set when a request failed without an answer: what exists is then unknown, so
        # cleanup deletes every name of the plan instead of only what was tracked.
        self._uncertain = False
        self._label = ""  # the value of the attempt label on what it writes
        self._epoch: int | None = None  # of the grader Lease, while this attempt holds it

    # -- the door ---------------------------------------------------------------------

    async def __aenter__(self) -> Sandbox:
        await self._acquire()
        self._lap("lock_wait")
        try:
            self.foreign_writes = await self._prepare()
        except BaseException:
            self._lap("baseline")
            await self._close()
            raise
        self._lap("baseline")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    def is_foreign(self, oid: ObjectId) -> bool:
        """Whether the object existed before KubeBench (never written, never deleted)."""
        return oid.state_key in self._state.foreign

    def lease_intact(self) -> bool:
        """Whether this process held the grader Lease throughout the attempt (if not,
        another grader may have written the same names: the verdict cannot stand)."""
        return self._epoch is not None and self._state.grader.still_held(self._epoch)

    async def write(self, planned: PlannedObject, *, dry_run: bool) -> WriteResult:
        """Server-side apply (dry-run or real) of one object, labelled for this attempt
        and tracked for cleanup. Raises InfrastructureError when the cluster failed."""
        obj = planned.obj
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        if (api_version, kind) not in self._resources:
            unknown = unknown_kind_response(api_version, kind)
            return WriteResult(False, unknown.message, unknown.reason)
        deadline = time.monotonic() + defaults.NAMESPACE_CACHE_LAG_S
        sent = labelled(obj, self._label)
        while True:
            try:
                resp = await self.kube.apply(sent, dry_run=dry_run)
            except (InfrastructureError, asyncio.CancelledError):
                # The server may have written the object even though no answer came back
                # (a cancelled attempt, too): cleanup must then look for it by name.
                if not dry_run:
                    self._uncertain = True
                raise
            # Right after the previous attempt removed this namespace, admission's cache
            # may still show the old one terminating; no namespace of a running attempt
            # is ever deleted, so this refusal is never the answer's doing.
            lagging = resp.status_code == 403 and _TERMINATING in resp.message
            if not lagging or time.monotonic() > deadline:
                break
            await asyncio.sleep(defaults.POLL_INTERVAL_S)
        if resp.ok and not dry_run:
            # A generateName object is known by the name the server gave it.
            oid = planned.oid or object_id(resp.body or obj, self._resources)
            if oid is not None:
                self._track(oid, obj, updated=resp.status_code == 200)
        if resp.ok:
            return WriteResult(True, warnings=resp.warnings)
        causes = [cause.describe() for cause in resp.causes]
        return WriteResult(False, resp.message, resp.reason, causes, resp.warnings)

    # -- entering ---------------------------------------------------------------------

    async def _acquire(self) -> None:
        """Hold the grader Lease, then take the locks of every name in the plan."""
        grader = self._state.grader
        self._epoch = await grader.enter(self.kube, self._take_over)
        self._label = f"{grader.label}-{next(self._state.attempts)}"
        try:
            self._held = await self._state.locks.acquire(self.plan.lock_keys())
        except BaseException:
            await asyncio.shield(self._exit_grader())
            raise

    async def _take_over(self) -> None:
        """Another process may have graded since this one last held the Lease: forget
        what is known about names and sweep its leftovers."""
        self._state.forget_names()
        await sweep_labelled(self.kube, self._state.namespaces)

    async def _exit_grader(self) -> None:
        if self._epoch is not None:
            self._epoch = None
            await self._state.grader.exit(self.kube)

    # The names whose existence the baseline must know: namespaces, cluster-scoped
    # objects, and objects inside foreign namespaces (those are not deleted wholesale).
    def _baseline_ids(self) -> list[ObjectId]:
        ids = [namespace_id(n) for n in sorted(self.plan.namespaces)]
        for oid in sorted(self.plan.objects, key=lambda o: o.state_key):
            if oid.namespace is None or f"ns:{oid.namespace}" in self._state.foreign:
                ids.append(oid)
        return ids

    async def _probe(self, oid: ObjectId) -> tuple[ObjectId, str, dict[str, Any] | None]:
        """(oid, "absent" | "ours" | "foreign", the live object when ours)."""
        if oid.state_key in self._state.dirty:
            live = await read_object(self.kube, oid)
        else:
            listed = await self._state.snapshot(self.kube, oid)
            if listed is None or oid.name not in listed:
                return oid, "absent", None
            live = listed[oid.name]
            if live is None:
                return oid, "foreign", None
        if live is None:
            return oid, "absent", None
        return oid, "ours" if written_by_kubebench(live) else "foreign", live

    async def _prepare(self) -> list[ObjectId]:
        """Make the baseline clean: classify unknown names, delete KubeBench's leftovers
        (from a crashed run) and wait until they are gone. Returns the foreign objects
        the answer would write."""
        state = self._state
        leftovers: dict[ObjectId, Mapping[str, Any] | None] = {}
        # Namespaces first: whether a namespace is foreign decides which objects to probe.
        for phase in ("namespaces", "objects"):
            ids = [
                oid
                for oid in self._baseline_ids()
                if oid.is_namespace == (phase == "namespaces")
                and oid.state_key not in state.absent
                and oid.state_key not in state.foreign
                and not (oid.namespace and any(n.name == oid.namespace for n in leftovers))
            ]
            for oid, status, live in await asyncio.gather(*(self._probe(oid) for oid in ids)):
                if status == "absent":
                    state.absent.add(oid.state_key)
                elif status == "ours":
                    leftovers[oid] = live
                else:
                    state.foreign.add(oid.state_key)
        self._owned.update(
            oid.state_key
            for oid in self._baseline_ids()
            if oid.state_key in state.absent or oid in leftovers
        )
        if leftovers:
            state.dirty.update(oid.state_key for oid in leftovers)
            await remove_objects(self.kube, state.namespaces, leftovers)
            state.confirm_absent(oid.state_key for oid in leftovers)
        return sorted(
            (oid for oid in self.plan.answer_writes if oid.state_key in state.foreign),
            key=lambda o: o.state_key,
        )

    def _track(self, oid: ObjectId, sent: Mapping[str, Any], *, updated: bool) -> None:
        """Record an object this attempt wrote (with the body sent, for its finalizers)."""
        # Updated (200), not created (201), although the baseline found it absent and
        # this attempt had not written it: someone wrote it since this process listed
        # the cluster.
        stale = updated and oid.state_key in self._owned and oid not in self._written
        self._state.absent.discard(oid.state_key)
        earlier = self._written.get(oid)
        if earlier is None or not has_finalizers(earlier) or has_finalizers(sent):
            self._written[oid] = sent  # else keep the body whose finalizers cleanup releases
        if stale:
            # Its content is unknown, so the namespace controller must sweep it on cleanup.
            self._uncertain, self._sweep = True, None
            raise InfrastructureError(
                f"{oid.describe()} already existed although the baseline found it "
                "absent: another writer on this cluster? It is removed; retry"
            )

    # -- leaving ----------------------------------------------------------------------

    async def _close(self) -> None:
        """Start the cleanup as a task of its own; wait until its deletes are sent (or,
        with `wait_for_cleanup`, until they are done)."""
        issued = asyncio.Event()
        task = asyncio.ensure_future(self._cleanup(issued))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        if self._wait_for_cleanup:
            self.cleanup_error = await asyncio.shield(task)
        else:
            await asyncio.shield(issued.wait())
        self._lap("cleanup")

    async def _cleanup(self, issued: asyncio.Event) -> str | None:
        pending: list[ObjectId] = []
        error: str | None = "cleanup was interrupted"
        try:
            pending = await self._start_cleanup()
            error = None
        except InfrastructureError as exc:
            error = exc.one_line()
        finally:
            self.cleanup_error = error
            issued.set()
            error = await self._finish_cleanup(pending, error)
            if error:
                self._state.cleanup_errors.append(error)
        return error

    def _cleanup_targets(self) -> dict[ObjectId, Mapping[str, Any] | None]:
        targets: dict[ObjectId, Mapping[str, Any] | None] = dict(self._written)
        if self._uncertain:
            # Only names the baseline classified as ours: an unclassified one may be foreign.
            for oid in self._baseline_ids():
                if oid.state_key in self._owned:
                    targets.setdefault(oid, None)
        return {oid: sent for oid, sent in targets.items() if not self.is_foreign(oid)}

    async def _start_cleanup(self) -> list[ObjectId]:
        """Issue the deletes of what the attempt wrote; the deletions still pending."""
        if self._held is None:
            return []
        self._targets = self._cleanup_targets()
        sweep = self._sweep
        if self._uncertain:
            self._targets.update(await self._labelled_by_this_attempt())
        elif sweep is not None:
            # Every write that succeeded is tracked: only the kinds written (and those
            # controllers create in every namespace) can hold anything to empty.
            written = {oid.kind for oid in self._written} | controller_kinds(self.kube)
            sweep = [info for info in sweep if info.kind in written]
        return await issue_removal(self.kube, self._targets, sweep)

    async def _labelled_by_this_attempt(self) -> dict[ObjectId, Mapping[str, Any] | None]:
        """What carries this attempt's label (a write whose answer was lost may have
        made an object of a generated name), in the kinds it may have written."""
        infos = []
        for api_version, kind in sorted(self.plan.kinds):
            info = await self.kube.resource(api_version, kind)
            if info is not None:
                infos.append(info)
        selector = f"{defaults.ATTEMPT_LABEL}={self._label}"
        found = await list_labelled(self.kube, infos, selector)
        return {oid: item for oid, item in found.items() if not self.is_foreign(oid)}

    async def _finish_cleanup(self, pending: list[ObjectId], error: str | None) -> str | None:
        """Wait for pending deletions, remember the names as absent, give the locks back.
        Returns an error line when something could not be removed (never raises)."""
        if self._held is None:
            return error
        keys = {oid.state_key for oid in self._targets} | self._owned
        try:
            if error is None:
                await await_removal(self.kube, self._state.namespaces, pending)
        except Exception as exc:  # a closed client raises RuntimeError, not only ours
            error = exc.one_line() if isinstance(exc, InfrastructureError) else repr(exc)
        finally:
            if error is None:
                self._state.confirm_absent(keys)
            else:
                self._state.mark_unknown(keys)
            self._held.release()
            self._held = None
            try:
                await self._exit_grader()
            except Exception as exc:  # finish_cleanup never raises
                error = error or repr(exc)
        return error


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
