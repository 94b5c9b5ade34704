"""Removing what attempts wrote: finalizers released, objects deleted, namespaces torn
down directly, and waiting until every deletion is done; the sweep of every labelled
object when this process takes the grader Lease over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import NAMESPACES, KubeClient, ResourceInfo, refused
from kubebench.errors import InfrastructureError
from kubebench.grading.objects import ObjectId, listed_id
from kubebench.grading.scope import KNOWN_KINDS
from kubebench.grading.server_state import NamespaceWaiter, read_object

_NS_FINALIZER = "kubernetes"
# Consecutive reads that must find a pending deletion done (see _wait_objects_gone).
_ABSENT_CHECKS = 3

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


async def _release_finalizers(kube: KubeClient, oid: ObjectId, obj: Mapping[str, Any]) -> None:
    """Remove finalizers an answer set, which would otherwise keep the object (and its
    namespace) from ever going away. The namespace controller's own finalizer stays."""
    info = await kube.resource(oid.api_version, oid.kind)
    if info is None:
        return
    path = info.path(oid.namespace, oid.name)
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if meta.get("finalizers"):
        patch = {"metadata": {"finalizers": None}}
        resp = await kube.request(
            "PATCH", path, body=patch, content_type="application/merge-patch+json"
        )
        if not resp.ok and resp.status_code != 404:
            raise refused(resp, f"cannot drop finalizers of {oid.describe()}")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if oid.is_namespace and any(f != _NS_FINALIZER for f in spec.get("finalizers") or []):
        live = await read_object(kube, oid)
        if live is None:
            return
        live_spec = live.setdefault("spec", {})
        live_spec["finalizers"] = [
            f for f in live_spec.get("finalizers") or [] if f == _NS_FINALIZER
        ]
        finalize = info.path(name=oid.name, subresource="finalize")
        resp = await kube.request("PUT", finalize, body=live)
        if not resp.ok and resp.status_code != 404:
            raise refused(resp, f"cannot finalize {oid.describe()}")


async def _delete(kube: KubeClient, oid: ObjectId) -> bool:
    """Delete; True when the object is gone already, False when deletion is pending."""
    resp = await kube.delete(oid.api_version, oid.kind, oid.name, oid.namespace)
    if resp.status_code == 404:
        return True
    if not resp.ok:
        raise refused(resp, f"cannot delete {oid.describe()}")
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
        found = await asyncio.gather(*(read_object(kube, oid) for oid in pending))
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


async def _empty_collection(kube: KubeClient, info: ResourceInfo, namespace: str) -> None:
    resp = await kube.request("DELETE", info.path(namespace))
    if not resp.ok and resp.status_code != 404:
        raise refused(resp, f"cannot empty {info.plural} in namespace {namespace}")
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
    cleared = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    cleared["spec"] = {"finalizers": []}
    finalize = NAMESPACES.path(name=name, subresource="finalize")
    fin = await kube.request("PUT", finalize, body=cleared)
    if fin.status_code == 404:
        return True
    if not fin.ok:
        raise refused(fin, f"cannot finalize Namespace {name}")
    for final in (False, True):
        resp = await kube.delete("v1", "Namespace", name)
        if resp.status_code == 404:
            return True
        if not resp.ok:
            if final and resp.status_code == 409:
                return False  # a finalizer came back; the controller finishes it
            raise refused(resp, f"cannot delete Namespace {name}")
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
    waiter: NamespaceWaiter,
    pending: list[ObjectId],
    *,
    timeout_s: float = defaults.CLEANUP_TIMEOUT_S,
) -> None:
    """Wait until pending deletions are done; raise InfrastructureError naming the rest."""
    deadline = time.monotonic() + timeout_s
    namespaces = [oid.name for oid in pending if oid.is_namespace]
    others = [oid for oid in pending if not oid.is_namespace]
    left_ns, left_objects = await asyncio.gather(
        waiter.wait_gone(kube, namespaces, timeout_s),
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
    waiter: NamespaceWaiter,
    targets: Mapping[ObjectId, Mapping[str, Any] | None],
    *,
    timeout_s: float = defaults.CLEANUP_TIMEOUT_S,
) -> None:
    """Delete objects and namespaces and wait until they are gone."""
    if targets:
        pending = await issue_removal(kube, targets)
        await await_removal(kube, waiter, pending, timeout_s=timeout_s)


async def list_labelled(
    kube: KubeClient, kinds: Iterable[ResourceInfo], selector: str
) -> dict[ObjectId, dict[str, Any]]:
    """Every object of `kinds`, in every namespace, that `selector` matches."""
    infos = list(kinds)
    params = {"labelSelector": selector}
    listed = await asyncio.gather(
        *(kube.request("GET", info.path(), params=params) for info in infos)
    )
    found: dict[ObjectId, dict[str, Any]] = {}
    for info, resp in zip(infos, listed, strict=True):
        if not resp.ok:
            raise refused(resp, f"cannot list {info.plural}")
        for item in (resp.body or {}).get("items") or []:
            found[listed_id(info, item)] = item
    return found


async def sweep_labelled(kube: KubeClient, waiter: NamespaceWaiter) -> None:
    """Remove every object an attempt labelled, in every namespace: only when this
    process holds the grader Lease and runs no attempt, so they are all leftovers."""
    resources = await kube.discover()
    kinds: dict[tuple[str, str], ResourceInfo] = {}
    for info in resources.values():
        if info.kind in KNOWN_KINDS and "list" in info.verbs:
            kinds.setdefault((info.group, info.kind), info)
    targets: dict[ObjectId, Mapping[str, Any] | None] = dict(
        await list_labelled(kube, kinds.values(), defaults.ATTEMPT_LABEL)
    )
    if targets:
        pending = await issue_removal(kube, targets, sweep_resources(KNOWN_KINDS, resources))
        await await_removal(kube, waiter, pending)
