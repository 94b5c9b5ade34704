"""What this process knows about one API server's names, shared by every attempt on it:
name locks, which names are absent, foreign or dirty, one snapshot per collection, the
shared wait for namespaces to go, and the grader Lease.

Whether a name exists is read once per collection (one LIST, the first time it is
needed); after that, what this process confirmed deleted costs no request, and what it
failed to delete (dirty) is read again, by name.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import NAMESPACES, KubeClient, ResourceInfo, refused
from kubebench.errors import InfrastructureError
from kubebench.grading.grader_lease import GraderLease
from kubebench.grading.locks import NameLocks
from kubebench.grading.objects import ObjectId, written_by_kubebench


async def read_object(kube: KubeClient, oid: ObjectId) -> dict[str, Any] | None:
    """The live object, or None when it is absent (or its kind is not served)."""
    info = await kube.resource(oid.api_version, oid.kind)
    if info is None:
        return None
    resp = await kube.request("GET", info.path(oid.namespace, oid.name))
    if resp.status_code == 404:
        return None
    if not resp.ok:
        raise refused(resp, f"cannot read {oid.describe()}")
    return resp.body


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
                resp = await self._kube.request("GET", NAMESPACES.path())
                if not resp.ok:
                    raise refused(resp, "cannot list namespaces")
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


async def _list_collection(
    kube: KubeClient, info: ResourceInfo, namespace: str | None
) -> dict[str, dict[str, Any] | None]:
    resp = await kube.request("GET", info.path(namespace))
    if not resp.ok:
        raise refused(resp, f"cannot list {info.plural}")
    return {
        item["metadata"]["name"]: item if written_by_kubebench(item) else None
        for item in (resp.body or {}).get("items") or []
    }


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

    def forget_names(self) -> None:
        """Another process may have written since: what is known about names goes
        (foreign objects stay foreign)."""
        self.absent.clear()
        self.dirty.clear()
        self._snapshots.clear()

    def confirm_absent(self, keys: Iterable[str]) -> None:
        keys = set(keys)
        self.absent.update(keys)
        self.dirty.difference_update(keys)

    def mark_unknown(self, keys: Iterable[str]) -> None:
        """Names whose removal was not confirmed: the next attempt reads them again."""
        keys = set(keys)
        self.absent.difference_update(keys)
        self.dirty.update(keys)


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
