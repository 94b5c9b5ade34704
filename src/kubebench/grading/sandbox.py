"""Isolation of one attempt: name locks, a clean baseline, tracking, and cleanup.

Every name an attempt may touch (the task's namespaces, its setup objects, the objects
its expectations and reference name, and what the answer writes) is locked for the
attempt, found absent or made absent before it starts, and deleted again afterwards;
the locks go back only once the deletions are confirmed. Whether a name exists is read
once per collection (one LIST, the first time it is needed); after that, what this
process confirmed deleted costs no request, and what it failed to delete is read again.

Objects that existed before KubeBench (no `kubebench` field manager on them: kube-system,
`default`, the `cluster-admin` ClusterRole, ...) are foreign: never written, never deleted.
An answer that would write one is refused as out of scope.

Every object an attempt writes carries the label `kubebench.io/attempt`. One process
grades on a cluster at a time, through the grader Lease (`grader_lease`): the locks and
what is known are per process, and a process that takes the Lease over from another
first removes every labelled object (what a killed grader left, generateName objects
included); no live grader's objects exist then.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import ApiResponse, KubeClient, ResourceInfo
from kubebench.errors import InfrastructureError
from kubebench.grading.grader_lease import GraderLease
from kubebench.grading.locks import HeldNames, NameLocks
from kubebench.grading.scope import KNOWN_KINDS, group_of, is_namespaced

_NS_FINALIZER = "kubernetes"
# Consecutive reads that must find a pending deletion done (see _wait_objects_gone).
_ABSENT_CHECKS = 3


@dataclass(frozen=True)
class ObjectId:
    """One object by name. `namespace` is None for cluster-scoped kinds."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def group(self) -> str:
        return group_of(self.api_version)

    @property
    def is_namespace(self) -> bool:
        return self.kind == "Namespace" and not self.group

    @property
    def state_key(self) -> str:
        """Identity across API versions: `ns:team-a`, `cluster:ClusterRole.rbac...:x`."""
        if self.is_namespace:
            return f"ns:{self.name}"
        group_kind = f"{self.kind}.{self.group}" if self.group else self.kind
        if self.namespace is None:
            return f"cluster:{group_kind}:{self.name}"
        return f"obj:{group_kind}:{self.namespace}/{self.name}"

    @property
    def lock_key(self) -> str:
        """Namespaced objects are locked through their namespace."""
        return f"ns:{self.namespace}" if self.namespace is not None else self.state_key

    def describe(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind} {self.name}")
        )


def namespace_id(name: str) -> ObjectId:
    return ObjectId("v1", "Namespace", name)


def object_id(
    obj: Mapping[str, Any], resources: Mapping[tuple[str, str], ResourceInfo]
) -> ObjectId | None:
    """The ObjectId of a manifest or API object (None without a usable name)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str)):
        return None
    if not name:
        return None
    namespace = None
    if is_namespaced(api_version, kind, resources):
        raw = meta.get("namespace") if isinstance(meta, dict) else None
        namespace = raw if isinstance(raw, str) and raw else "default"
    return ObjectId(api_version, kind, name, namespace)


@dataclass
class AttemptPlan:
    """Every name one attempt may touch, and which of them the answer writes."""

    namespaces: set[str] = field(default_factory=set)
    objects: set[ObjectId] = field(default_factory=set)  # not Namespaces
    answer_writes: set[ObjectId] = field(default_factory=set)
    # (apiVersion, kind) of everything setup and the answer write, named or generated.
    kinds: set[tuple[str, str]] = field(default_factory=set)

    def add(self, oid: ObjectId) -> None:
        if oid.is_namespace:
            self.namespaces.add(oid.name)
            return
        self.objects.add(oid)
        if oid.namespace is not None:
            self.namespaces.add(oid.namespace)

    def lock_keys(self) -> set[str]:
        return {f"ns:{n}" for n in self.namespaces} | {o.lock_key for o in self.objects}


# -- per-server state -------------------------------------------------------------------


class NamespaceWaiter:
    """Waits for deleted namespaces to disappear with one shared poll (a single LIST per
    tick, however many attempts are waiting)."""

    def __init__(self, interval_s: float = defaults.POLL_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._futures: dict[str, set[asyncio.Future[None]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._kube: KubeClient | None = None

    async def wait_gone(
        self, kube: KubeClient, names: Iterable[str], timeout_s: float
    ) -> list[str]:
        """The names still present when `timeout_s` ran out (empty: all gone)."""
        loop = asyncio.get_running_loop()
        futures = {name: loop.create_future() for name in set(names)}
        if not futures:
            return []
        for name, fut in futures.items():
            self._futures.setdefault(name, set()).add(fut)
        self._kube = kube  # the newest client: an older one may have been closed
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            done, _ = await asyncio.wait(futures.values(), timeout=timeout_s)
            for fut in done:
                fut.result()  # an InfrastructureError from the poll
            return sorted(name for name, fut in futures.items() if fut not in done)
        finally:
            for name, fut in futures.items():
                waiting = self._futures.get(name)
                if waiting is not None:
                    waiting.discard(fut)
                    if not waiting:
                        del self._futures[name]
                fut.cancel()

    async def _poll(self) -> None:
        while self._futures:
            await asyncio.sleep(self.interval_s)
            try:
                assert self._kube is not None
                resp = await self._kube.request("GET", "/api/v1/namespaces")
                if not resp.ok:
                    raise InfrastructureError(f"cannot list namespaces: {resp.message}")
            except Exception as exc:
                if not isinstance(exc, InfrastructureError):
                    exc = InfrastructureError(f"cannot list namespaces: {exc!r}")
                for waiting in self._futures.values():
                    for fut in waiting:
                        if not fut.done():
                            fut.set_exception(exc)
                continue
            present = {item["metadata"]["name"] for item in (resp.body or {}).get("items", [])}
            for name in [n for n in self._futures if n not in present]:
                for fut in self._futures.pop(name):
                    if not fut.done():
                        fut.set_result(None)


@dataclass
class ServerState:
    """What this process knows about one API server's names."""

    locks: NameLocks = field(default_factory=NameLocks)
    absent: set[str] = field(default_factory=set)  # state keys confirmed absent
    foreign: set[str] = field(default_factory=set)  # pre-existing, not kubebench's
    # Written by this process and not confirmed deleted: read one by one, not from a
    # snapshot, until an attempt confirms them absent again.
    dirty: set[str] = field(default_factory=set)
    namespaces: NamespaceWaiter = field(default_factory=NamespaceWaiter)
    cleanup_errors: list[str] = field(default_factory=list)  # from background cleanups
    grader: GraderLease = field(default_factory=GraderLease)
    attempts: itertools.count[int] = field(default_factory=itertools.count)
    # One LIST per collection, on first need: name -> the live object when KubeBench
    # wrote it (a leftover), None when it is foreign.
    _snapshots: dict[str, asyncio.Future[dict[str, dict[str, Any] | None]]] = field(
        default_factory=dict
    )

    async def snapshot(
        self, kube: KubeClient, oid: ObjectId
    ) -> dict[str, dict[str, Any] | None] | None:
        """What the collection holding `oid` contained when first listed (None when the
        kind is not served)."""
        info = await kube.resource(oid.api_version, oid.kind)
        if info is None:
            return None
        key = f"{info.group}/{info.kind}@{oid.namespace or ''}"
        future = self._snapshots.get(key)
        if future is None:
            future = asyncio.ensure_future(_list_collection(kube, info, oid.namespace))
            # Its error is read by whoever awaits it; when all of those were cancelled,
            # nobody does: mark it retrieved (no "exception was never retrieved").
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._snapshots[key] = future
        try:
            return await asyncio.shield(future)
        except InfrastructureError:
            if self._snapshots.get(key) is future:
                del self._snapshots[key]  # the next attempt lists again
            raise

    async def take_over(self, kube: KubeClient) -> None:
        """Another process may have graded since this one last held the Lease: forget
        what is known about names (foreign objects stay foreign) and sweep leftovers."""
        self.absent.clear()
        self.dirty.clear()
        self._snapshots.clear()
        await sweep_labelled(kube, self)


_STATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ServerState]] = (
    weakref.WeakKeyDictionary()
)


def forget_server_state(kube: KubeClient) -> None:
    """Drop what this process knows about the API server (names, snapshots), as a new
    process would start; only when no attempt is running on it."""
    _STATES.get(asyncio.get_running_loop(), {}).pop(kube.conn.server, None)


def server_state(kube: KubeClient) -> ServerState:
    """The state shared by every attempt on this API server (per event loop: asyncio
    locks belong to one loop)."""
    per_loop = _STATES.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(kube.conn.server, ServerState())


# -- object helpers ---------------------------------------------------------------------


def written_by_kubebench(obj: Mapping[str, Any]) -> bool:
    """Whether KubeBench's field manager ever wrote this object."""
    managed = (obj.get("metadata") or {}).get("managedFields") or []
    return any(entry.get("manager") == defaults.FIELD_MANAGER for entry in managed)


async def _path(kube: KubeClient, oid: ObjectId) -> str | None:
    info = await kube.resource(oid.api_version, oid.kind)
    return None if info is None else info.path(oid.namespace, oid.name)


async def _list_collection(
    kube: KubeClient, info: ResourceInfo, namespace: str | None
) -> dict[str, dict[str, Any] | None]:
    if info.namespaced:
        path = info.path(namespace)
    else:
        path = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
        path += f"/{info.plural}"
    resp = await kube.request("GET", path)
    if not resp.ok:
        raise InfrastructureError(f"cannot list {info.plural}: {resp.message}")
    return {
        item["metadata"]["name"]: item if written_by_kubebench(item) else None
        for item in (resp.body or {}).get("items") or []
    }


async def _get(kube: KubeClient, oid: ObjectId) -> dict[str, Any] | None:
    path = await _path(kube, oid)
    if path is None:
        return None
    resp = await kube.request("GET", path)
    if resp.status_code == 404:
        return None
    if not resp.ok:
        raise InfrastructureError(f"cannot read {oid.describe()}: {resp.message}")
    return resp.body


def _has_finalizers(obj: Mapping[str, Any]) -> bool:
    meta, spec = obj.get("metadata"), obj.get("spec")
    return bool(
        (isinstance(meta, dict) and meta.get("finalizers"))
        or (isinstance(spec, dict) and spec.get("finalizers"))
    )


async def _release_finalizers(kube: KubeClient, oid: ObjectId, obj: Mapping[str, Any]) -> None:
    """Remove finalizers an answer set, which would otherwise keep the object (and its
    namespace) from ever going away. The namespace controller's own finalizer stays."""
    path = await _path(kube, oid)
    if path is None:
        return
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if meta.get("finalizers"):
        patch = {"metadata": {"finalizers": None}}
        resp = await kube.request(
            "PATCH", path, body=patch, content_type="application/merge-patch+json"
        )
        if not resp.ok and resp.status_code != 404:
            raise InfrastructureError(f"cannot drop finalizers of {oid.describe()}: {resp.message}")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if oid.is_namespace and any(f != _NS_FINALIZER for f in spec.get("finalizers") or []):
        live = await _get(kube, oid)
        if live is None:
            return
        live_spec = live.setdefault("spec", {})
        live_spec["finalizers"] = [
            f for f in live_spec.get("finalizers") or [] if f == _NS_FINALIZER
        ]
        resp = await kube.request("PUT", f"{path}/finalize", body=live)
        if not resp.ok and resp.status_code != 404:
            raise InfrastructureError(f"cannot finalize {oid.describe()}: {resp.message}")


async def _delete(kube: KubeClient, oid: ObjectId) -> bool:
    """Delete; True when the object is gone already, False when deletion is pending."""
    resp: ApiResponse = await kube.delete(oid.api_version, oid.kind, oid.name, oid.namespace)
    if resp.status_code == 404:
        return True
    if not resp.ok:
        raise InfrastructureError(f"cannot delete {oid.describe()}: {resp.message}")
    if oid.is_namespace:
        return False
    meta = (resp.body or {}).get("metadata") or {}
    return (resp.body or {}).get("kind") == "Status" or not meta.get("deletionTimestamp")


async def _wait_objects_gone(kube: KubeClient, oids: list[ObjectId], deadline: float) -> list[str]:
    """Poll objects (not namespaces) whose deletion is pending until each has been seen
    absent a few times in a row; one that came back (an aggregated ClusterRole the
    aggregation controller re-applied after its delete) is deleted again. Returns the
    ones left over at the deadline."""
    streak = dict.fromkeys(oids, 0)
    while any(n < _ABSENT_CHECKS for n in streak.values()):
        pending = [oid for oid, n in streak.items() if n < _ABSENT_CHECKS]
        found = await asyncio.gather(*(_get(kube, oid) for oid in pending))
        for oid, obj in zip(pending, found, strict=True):
            if obj is None:
                streak[oid] += 1
                continue
            streak[oid] = 0
            if not (obj.get("metadata") or {}).get("deletionTimestamp"):
                await _delete(kube, oid)
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(defaults.POLL_INTERVAL_S)
    return [oid.describe() for oid, n in streak.items() if n < _ABSENT_CHECKS]


# Kinds that controllers create in every new namespace of a cluster: the `default`
# ServiceAccount and the `kube-root-ca.crt` ConfigMap. KubeBench's own control plane
# runs neither controller (no task reads them; each cost a create, and a collection
# delete per teardown), so there only what an attempt wrote needs emptying. (Events are
# not swept: no grader reads them, and the API server expires them.)
CONTROLLER_KINDS = frozenset({"ServiceAccount", "ConfigMap"})


def controller_kinds(kube: KubeClient) -> frozenset[str]:
    """What controllers add to every namespace of the cluster behind `kube`."""
    return frozenset() if kube.conn.managed else CONTROLLER_KINDS


def sweep_resources(
    kinds: Iterable[str],
    resources: Mapping[tuple[str, str], ResourceInfo],
    extra: Iterable[str] = CONTROLLER_KINDS,
) -> list[ResourceInfo]:
    """One namespaced collection per kind (any served version) that supports
    deletecollection: what a namespace teardown empties (`kinds` and `extra`, the
    kinds controllers add)."""
    wanted = set(kinds) | set(extra)
    chosen: dict[tuple[str, str], ResourceInfo] = {}
    for info in resources.values():
        if info.kind in wanted and info.namespaced and "deletecollection" in info.verbs:
            chosen.setdefault((info.group, info.kind), info)
    return sorted(chosen.values(), key=lambda i: (i.group, i.kind))


async def _empty_collection(kube: KubeClient, info: ResourceInfo, namespace: str) -> None:
    resp = await kube.request("DELETE", info.path(namespace))
    if not resp.ok and resp.status_code != 404:
        raise InfrastructureError(
            f"cannot empty {info.plural} in namespace {namespace}: {resp.message}"
        )
    # An object that still carries finalizers would outlive its namespace: drop them.
    for item in (resp.body or {}).get("items") or []:
        meta = item.get("metadata") or {}
        if meta.get("finalizers"):
            oid = ObjectId(info.api_version, info.kind, meta.get("name", ""), namespace)
            await _release_finalizers(kube, oid, item)


async def _teardown_namespace(kube: KubeClient, name: str, sweep: list[ResourceInfo]) -> bool:
    """Remove a namespace whose possible content is known, without the namespace
    controller, which waits a fixed 5 s grace period and then sweeps every resource type
    (~165 ms of API server and etcd CPU per namespace). True when it is gone.

    1. Its `kubernetes` finalizer is cleared while it is still active: the controller
       skips finalized namespaces, so its delayed sweep (by name) can never hit a later
       namespace of the same name, and the final delete below removes it at once.
    2. Delete: it turns Terminating, so admission refuses new objects in it.
    3. Empty the collections that may hold anything: the kinds the task and the answer
       may write, and what controllers create in every namespace.
    4. Delete again: with no finalizer left, that removes it.
    """
    path = f"/api/v1/namespaces/{name}"
    cleared = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    cleared["spec"] = {"finalizers": []}
    fin = await kube.request("PUT", f"{path}/finalize", body=cleared)
    if fin.status_code == 404:
        return True
    if not fin.ok:
        raise InfrastructureError(f"cannot finalize Namespace {name}: {fin.message}")
    for final in (False, True):
        resp = await kube.delete("v1", "Namespace", name)
        if resp.status_code == 404:
            return True
        if not resp.ok:
            if final and resp.status_code == 409:
                return False  # a finalizer came back; the controller finishes it
            raise InfrastructureError(f"cannot delete Namespace {name}: {resp.message}")
        if not final:
            await asyncio.gather(*(_empty_collection(kube, info, name) for info in sweep))
    return True


async def issue_removal(
    kube: KubeClient,
    targets: Mapping[ObjectId, Mapping[str, Any] | None],
    sweep: list[ResourceInfo] | None = None,
) -> list[ObjectId]:
    """Release finalizers an answer set, then delete every target at once. Namespaces
    are torn down directly when `sweep` (their possible content) is given, otherwise
    left to their controller. Returns the targets whose deletion is still pending."""
    await asyncio.gather(
        *(_release_finalizers(kube, oid, obj) for oid, obj in targets.items() if obj)
    )
    # Objects inside a namespace that is going away need no delete of their own.
    doomed = {oid.name for oid in targets if oid.is_namespace}
    to_delete = [oid for oid in targets if oid.namespace not in doomed]

    async def remove(oid: ObjectId) -> bool:
        if oid.is_namespace and sweep is not None:
            return await _teardown_namespace(kube, oid.name, sweep)
        gone = await _delete(kube, oid)
        # The aggregation controller may re-apply (and so re-create) an aggregated
        # ClusterRole it was updating as it was deleted: watch it stay gone.
        sent = targets.get(oid)
        return gone and not (oid.kind == "ClusterRole" and sent and sent.get("aggregationRule"))

    gone = await asyncio.gather(*(remove(oid) for oid in to_delete))
    return [oid for oid, ok in zip(to_delete, gone, strict=True) if not ok]


async def await_removal(
    kube: KubeClient,
    state: ServerState,
    pending: list[ObjectId],
    *,
    timeout_s: float = defaults.CLEANUP_TIMEOUT_S,
) -> None:
    """Wait until pending deletions are done; raise InfrastructureError naming the rest."""
    deadline = time.monotonic() + timeout_s
    namespaces = [oid.name for oid in pending if oid.is_namespace]
    others = [oid for oid in pending if not oid.is_namespace]
    left_ns, left_objects = await asyncio.gather(
        state.namespaces.wait_gone(kube, namespaces, timeout_s),
        _wait_objects_gone(kube, others, deadline),
    )
    left = [f"Namespace {n}" for n in left_ns] + left_objects
    if left:
        raise InfrastructureError(
            f"still present {timeout_s:.0f}s after deletion: {', '.join(left)}",
            hint="a finalizer may be stuck; `kubectl get ns -o yaml` shows the conditions",
        )


async def remove_objects(
    kube: KubeClient,
    state: ServerState,
    targets: Mapping[ObjectId, Mapping[str, Any] | None],
    *,
    timeout_s: float = defaults.CLEANUP_TIMEOUT_S,
) -> None:
    """Delete objects and namespaces and wait until they are gone."""
    if targets:
        pending = await issue_removal(kube, targets)
        await await_removal(kube, state, pending, timeout_s=timeout_s)


def labelled(obj: Mapping[str, Any], value: str) -> dict[str, Any]:
    """The object with the attempt label added (unchanged when its metadata or labels
    are not mappings: the server then refuses it as the answer wrote it)."""
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(labels, dict | None):
        return dict(obj)
    return {
        **obj,
        "metadata": {**meta, "labels": {**(labels or {}), defaults.ATTEMPT_LABEL: value}},
    }


def _cluster_wide_path(info: ResourceInfo) -> str:
    base = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    return f"{base}/{info.plural}"


async def sweep_labelled(kube: KubeClient, state: ServerState) -> None:
    """Remove every object an attempt labelled, in every namespace: only when this
    process holds the grader Lease and runs no attempt, so they are all leftovers."""
    resources = await kube.discover()
    kinds: dict[tuple[str, str], ResourceInfo] = {}
    for info in resources.values():
        if info.kind in KNOWN_KINDS and "list" in info.verbs:
            kinds.setdefault((info.group, info.kind), info)
    params = {"labelSelector": defaults.ATTEMPT_LABEL}
    listed = await asyncio.gather(
        *(kube.request("GET", _cluster_wide_path(info), params=params) for info in kinds.values())
    )
    targets: dict[ObjectId, Mapping[str, Any] | None] = {}
    for info, resp in zip(kinds.values(), listed, strict=True):
        if not resp.ok:
            raise InfrastructureError(f"cannot list {info.plural}: {resp.message}")
        for item in (resp.body or {}).get("items") or []:
            meta = item.get("metadata") or {}
            namespace = meta.get("namespace") if info.namespaced else None
            targets[ObjectId(info.api_version, info.kind, meta["name"], namespace)] = item
    if targets:
        pending = await issue_removal(kube, targets, sweep_resources(KNOWN_KINDS, resources))
        await await_removal(kube, state, pending)


# -- one attempt ------------------------------------------------------------------------


class Sandbox:
    """One attempt's isolation: `acquire()`, `prepare()`, `track()` each write, then
    `start_cleanup()` and `finish_cleanup()` (which gives the locks back)."""

    def __init__(
        self, kube: KubeClient, plan: AttemptPlan, sweep: list[ResourceInfo] | None = None
    ) -> None:
        self.kube = kube
        self.plan = plan
        # Collections that may hold anything of this attempt's in its namespaces.
        self.sweep = sweep
        self.state = server_state(kube)
        self.held: HeldNames | None = None
        self.written: dict[ObjectId, Mapping[str, Any]] = {}
        # State keys the baseline found absent or cleared: this attempt's to delete.
        self.owned: set[str] = set()
        self.targets: dict[ObjectId, Mapping[str, Any] | None] = {}
        # Set when a request failed without an answer: what exists is then unknown, so
        # cleanup deletes every name of the plan instead of only what was tracked.
        self.uncertain = False
        self.label = ""  # the value of the attempt label on what it writes
        self._epoch: int | None = None  # of the grader Lease, while this attempt holds it

    # The names whose existence the baseline must know: namespaces, cluster-scoped
    # objects, and objects inside foreign namespaces (those are not deleted wholesale).
    def _baseline_ids(self) -> list[ObjectId]:
        ids = [namespace_id(n) for n in sorted(self.plan.namespaces)]
        for oid in sorted(self.plan.objects, key=lambda o: o.state_key):
            if oid.namespace is None or f"ns:{oid.namespace}" in self.state.foreign:
                ids.append(oid)
        return ids

    def is_foreign(self, oid: ObjectId) -> bool:
        """Whether the object existed before KubeBench (never written, never deleted)."""
        return oid.state_key in self.state.foreign

    async def acquire(self) -> None:
        """Hold the grader Lease, then take the locks of every name in the plan."""
        grader = self.state.grader
        self._epoch = await grader.enter(self.kube, lambda: self.state.take_over(self.kube))
        self.label = f"{grader.label}-{next(self.state.attempts)}"
        try:
            self.held = await self.state.locks.acquire(self.plan.lock_keys())
        except BaseException:
            await asyncio.shield(self._exit_grader())
            raise

    async def _exit_grader(self) -> None:
        if self._epoch is not None:
            self._epoch = None
            await self.state.grader.exit(self.kube)

    def lease_intact(self) -> bool:
        """Whether this process held the grader Lease throughout the attempt (if not,
        another grader may have written the same names: the verdict cannot stand)."""
        return self._epoch is not None and self.state.grader.still_held(self._epoch)

    def labelled(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """`obj` as this attempt writes it: with its attempt label."""
        return labelled(obj, self.label)

    async def _probe(self, oid: ObjectId) -> tuple[ObjectId, str, dict[str, Any] | None]:
        """(oid, "absent" | "ours" | "foreign", the live object when ours)."""
        if oid.state_key in self.state.dirty:
            live = await _get(self.kube, oid)
        else:
            listed = await self.state.snapshot(self.kube, oid)
            if listed is None or oid.name not in listed:
                return oid, "absent", None
            live = listed[oid.name]
            if live is None:
                return oid, "foreign", None
        if live is None:
            return oid, "absent", None
        return oid, "ours" if written_by_kubebench(live) else "foreign", live

    async def prepare(self) -> list[ObjectId]:
        """Make the baseline clean: classify unknown names, delete KubeBench's leftovers
        (from a crashed run) and wait until they are gone. Returns the foreign objects
        the answer would write (the caller refuses the answer)."""
        assert self.held is not None, "acquire() first"
        leftovers: dict[ObjectId, Mapping[str, Any] | None] = {}
        # Namespaces first: whether a namespace is foreign decides which objects to probe.
        for phase in ("namespaces", "objects"):
            ids = [
                oid
                for oid in self._baseline_ids()
                if oid.is_namespace == (phase == "namespaces")
                and oid.state_key not in self.state.absent
                and oid.state_key not in self.state.foreign
                and not (oid.namespace and any(n.name == oid.namespace for n in leftovers))
            ]
            for oid, status, live in await asyncio.gather(*(self._probe(oid) for oid in ids)):
                if status == "absent":
                    self.state.absent.add(oid.state_key)
                elif status == "ours":
                    leftovers[oid] = live
                else:
                    self.state.foreign.add(oid.state_key)
        self.owned.update(
            oid.state_key
            for oid in self._baseline_ids()
            if oid.state_key in self.state.absent or oid in leftovers
        )
        if leftovers:
            self.state.dirty.update(oid.state_key for oid in leftovers)
            await remove_objects(self.kube, self.state, leftovers)
            self.state.absent.update(oid.state_key for oid in leftovers)
            self.state.dirty.difference_update(oid.state_key for oid in leftovers)
        return sorted(
            (oid for oid in self.plan.answer_writes if oid.state_key in self.state.foreign),
            key=lambda o: o.state_key,
        )

    def track(self, oid: ObjectId, sent: Mapping[str, Any]) -> None:
        """Record an object this attempt wrote (with the body sent, for its finalizers)."""
        self.state.absent.discard(oid.state_key)
        earlier = self.written.get(oid)
        if earlier is not None and _has_finalizers(earlier) and not _has_finalizers(sent):
            return  # keep the body whose finalizers cleanup must release
        self.written[oid] = sent

    def _cleanup_targets(self) -> dict[ObjectId, Mapping[str, Any] | None]:
        targets: dict[ObjectId, Mapping[str, Any] | None] = dict(self.written)
        if self.uncertain:
            # Only names the baseline classified as ours: an unclassified one may be foreign.
            for oid in self._baseline_ids():
                if oid.state_key in self.owned:
                    targets.setdefault(oid, None)
        return {
            oid: sent for oid, sent in targets.items() if oid.state_key not in self.state.foreign
        }

    async def start_cleanup(self) -> list[ObjectId]:
        """Issue the deletes of what the attempt wrote; the deletions still pending.
        Raises InfrastructureError (then `finish_cleanup` must still run)."""
        if self.held is None:
            return []
        self.targets = self._cleanup_targets()
        sweep = self.sweep
        if self.uncertain:
            self.targets.update(await self._labelled_by_this_attempt())
        elif sweep is not None:
            # Every write that succeeded is tracked: only the kinds written (and those
            # controllers create in every namespace) can hold anything to empty.
            written = {oid.kind for oid in self.written} | controller_kinds(self.kube)
            sweep = [info for info in sweep if info.kind in written]
        return await issue_removal(self.kube, self.targets, sweep)

    async def _labelled_by_this_attempt(self) -> dict[ObjectId, Mapping[str, Any] | None]:
        """What carries this attempt's label (a write whose answer was lost may have
        made an object of a generated name), in the kinds it may have written."""
        found: dict[ObjectId, Mapping[str, Any] | None] = {}
        params = {"labelSelector": f"{defaults.ATTEMPT_LABEL}={self.label}"}
        for api_version, kind in sorted(self.plan.kinds):
            info = await self.kube.resource(api_version, kind)
            if info is None:
                continue
            resp = await self.kube.request("GET", _cluster_wide_path(info), params=params)
            if not resp.ok:
                raise InfrastructureError(f"cannot list {info.plural}: {resp.message}")
            for item in (resp.body or {}).get("items") or []:
                meta = item.get("metadata") or {}
                namespace = meta.get("namespace") if info.namespaced else None
                oid = ObjectId(info.api_version, info.kind, meta["name"], namespace)
                if oid.state_key not in self.state.foreign:
                    found[oid] = item
        return found

    async def finish_cleanup(self, pending: list[ObjectId], error: str | None = None) -> str | None:
        """Wait for pending deletions, remember the names as absent, give the locks back.
        Returns an error line when something could not be removed (never raises)."""
        if self.held is None:
            return error
        keys = {oid.state_key for oid in self.targets} | self.owned
        try:
            if error is None:
                await await_removal(self.kube, self.state, pending)
        except Exception as exc:  # a closed client raises RuntimeError, not only ours
            error = exc.one_line() if isinstance(exc, InfrastructureError) else repr(exc)
        finally:
            if error is None:
                self.state.absent.update(keys)
                self.state.dirty.difference_update(keys)
            else:
                # Unknown now: the next attempt on these names reads them again.
                self.state.absent.difference_update(keys)
                self.state.dirty.update(keys)
            self.held.release()
            self.held = None
            try:
                await self._exit_grader()
            except Exception as exc:  # finish_cleanup never raises
                error = error or repr(exc)
        return error
