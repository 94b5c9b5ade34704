"""Fixtures of the grading tests: what grading left behind on the test cluster."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.grading.pipeline import settle_cleanups
from kubebench.grading.scope import KNOWN_KINDS


async def kubebench_leftovers(kube: KubeClient, prefix: str) -> list[str]:
    """Namespaces, and cluster-scoped RBAC objects KubeBench wrote, whose names start
    with `prefix` and still exist once background cleanups have finished."""
    assert await settle_cleanups(kube) == []
    left = [
        f"Namespace {ns['metadata']['name']}"
        for ns in await kube.list("v1", "Namespace")
        if ns["metadata"]["name"].startswith(prefix)
    ]
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        for obj in await kube.list("rbac.authorization.k8s.io/v1", kind):
            managers = {m.get("manager") for m in obj["metadata"].get("managedFields", [])}
            if obj["metadata"]["name"].startswith(prefix) and defaults.FIELD_MANAGER in managers:
                left.append(f"{kind} {obj['metadata']['name']}")
    return left


@pytest.fixture
def leftovers(kube: KubeClient) -> Callable[[str], Awaitable[list[str]]]:
    """`await leftovers("prefix-")`: what grading left behind under that name prefix."""

    async def check(prefix: str) -> list[str]:
        return await kubebench_leftovers(kube, prefix)

    return check


async def cluster_objects(kube: KubeClient) -> set[str]:
    """Every object of the kinds an answer could write (and of the kinds a hostile one
    tries), cluster-wide, by kind, namespace, name and uid: equal sets before and after
    grading mean nothing was left, overwritten or recreated."""
    assert await settle_cleanups(kube) == []
    resources = await kube.discover()
    kinds = set(KNOWN_KINDS) | {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
    # What other tests are deleting in the background (their namespaces terminating)
    # is on its way out either way: left out of both sides.
    going = {
        ns["metadata"]["name"]
        for ns in await kube.list("v1", "Namespace")
        if ns["metadata"].get("deletionTimestamp")
    }
    out = set()
    for (api_version, kind), info in sorted(resources.items()):
        if kind not in kinds or info.version != "v1":
            continue
        for obj in await kube.list(api_version, kind):
            meta = obj["metadata"]
            where = meta.get("namespace", "")
            if where in going or meta.get("deletionTimestamp") or meta["name"] in going:
                continue
            out.add(f"{kind} {where}/{meta['name']} {meta['uid']}")
    return out
