"""Validation on the real API server: apiVersions against discovery, then server-side
dry-run with `fieldValidation=Strict`, concurrent and in batches.

An apiVersion is *removed* when its API group is served but not in that version for
that kind (`extensions/v1beta1`, `rbac.authorization.k8s.io/v1beta1`,
`batch/v1beta1 CronJob`), or belongs to a group the server no longer serves at all;
a group the server does not know is a custom resource (or a tool's file, such as a
kustomization), counted apart. *Deprecated* versions are the ones the server warns about
in the dry-run's `Warning` header. Namespaced objects are sent into one validation
namespace (created if missing and left in place, empty: dry-runs store nothing), so
that a manifest's own namespace need not exist.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import NAMESPACES, KubeClient, ResourceInfo
from kubebench.data.counters import bucket
from kubebench.errors import InfrastructureError
from kubebench.grading.scope import group_of
from kubebench.retry import RetryPolicy, with_retries

# Groups Kubernetes once served and has dropped entirely.
REMOVED_GROUPS = frozenset(("extensions",))
_HANDLED = re.compile(r'^\S+ in version "[^"]*" cannot be handled as an? \S+: ')


@dataclass(frozen=True)
class ApiVersionVerdict:
    """`served` (with its REST mapping), `removed` or `unknown`, and why."""

    status: str
    reason: str = ""
    info: ResourceInfo | None = None


class ServedApis:
    """What the pinned API server's discovery serves, asked one kind at a time."""

    def __init__(self, resources: Mapping[tuple[str, str], ResourceInfo]) -> None:
        self.resources = dict(resources)
        self.groups: dict[str, set[str]] = {}
        for (api_version, kind), _ in self.resources.items():
            self.groups.setdefault(group_of(api_version), set()).add(kind)

    def classify(self, api_version: str, kind: str) -> ApiVersionVerdict:
        info = self.resources.get((api_version, kind))
        if info is not None:
            return ApiVersionVerdict("served", info=info)
        group = group_of(api_version)
        served = sorted(av for (av, k) in self.resources if k == kind and group_of(av) == group)
        if served:
            return ApiVersionVerdict(
                "removed", f"{api_version} {kind} is not served (served: {', '.join(served)})"
            )
        if group in REMOVED_GROUPS:
            return ApiVersionVerdict("removed", f"API group {group} is no longer served")
        if group in self.groups:
            return ApiVersionVerdict(
                "unknown", f"kind {kind} is not served in group {group or 'core'}"
            )
        return ApiVersionVerdict("unknown", f"API group {group} is not served (custom resource)")


@dataclass
class DryRunResult:
    """One object's dry-run: passed or not, the bucket it fails in, deprecation warnings."""

    ok: bool
    reason: str = ""  # "<server reason>: <message, folded>" when not ok
    message: str = ""
    deprecated: str = ""  # the server's deprecation warning, if any
    warnings: list[str] = field(default_factory=list)


async def ensure_namespace(
    kube: KubeClient, name: str, timeout_s: float = defaults.CLEANUP_TIMEOUT_S
) -> None:
    """Create the validation namespace unless it exists (one still terminating is
    waited out first: dry-runs into it would be refused), with its `default`
    ServiceAccount."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    deadline = time.monotonic() + timeout_s
    while True:
        resp = await kube.create(body)
        if resp.ok:
            break
        if resp.reason != "AlreadyExists":
            raise InfrastructureError(f"cannot create namespace {name}: {resp.message}")
        current = await kube.request("GET", NAMESPACES.path(name=name))
        phase = ((current.body or {}).get("status") or {}).get("phase")
        if current.ok and phase != "Terminating":
            break
        if time.monotonic() > deadline:
            raise InfrastructureError(f"namespace {name} is still terminating")
        await asyncio.sleep(defaults.POLL_INTERVAL_S * 4)
    # KubeBench's control plane runs no serviceaccount controller: without `default`,
    # the ServiceAccount admission plugin refuses every Pod after a ~2.5 s lookup.
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
    resp = await kube.create(account, namespace=name)
    if not resp.ok and resp.reason != "AlreadyExists":
        raise InfrastructureError(f"cannot create ServiceAccount {name}/default: {resp.message}")


async def delete_namespace(kube: KubeClient, name: str) -> None:
    """Remove a validation namespace (tests); builds leave theirs, empty, for the next."""
    await kube.request("DELETE", NAMESPACES.path(name=name))


async def dry_run_object(
    kube: KubeClient, obj: dict[str, Any], info: ResourceInfo, namespace: str
) -> DryRunResult:
    """Server-side dry-run create, Strict field validation. AlreadyExists passes: the
    server validates before it looks for a stored object of the same name."""
    body = obj
    if info.namespaced:
        body = copy.copy(obj)
        meta = dict(obj.get("metadata") or {}) if isinstance(obj.get("metadata"), dict) else {}
        meta["namespace"] = namespace
        body["metadata"] = meta
    params = {
        "dryRun": "All",
        "fieldValidation": "Strict",
        "fieldManager": defaults.FIELD_MANAGER,
    }
    path = info.path(namespace if info.namespaced else None)
    resp, error, _ = await with_retries(
        lambda: kube.request("POST", path, params=params, body=body), RetryPolicy()
    )
    if resp is None:
        error = error or "no answer"
        return DryRunResult(False, f"InfrastructureError: {bucket(error)}", error)
    deprecated = next((w for w in resp.warnings if "deprecated" in w.lower()), "")
    if resp.ok or resp.reason == "AlreadyExists":
        return DryRunResult(True, deprecated=deprecated, warnings=resp.warnings)
    message = resp.message
    reason = resp.reason or f"HTTP {resp.status_code}"
    # Drop the object's own name and type from the message: `Role "x" is invalid: ...`,
    # `ConfigMap in version "v1" cannot be handled as a ConfigMap: ...`.
    detail = _HANDLED.sub("", message.split(" is invalid: ", 1)[-1])
    return DryRunResult(False, f"{reason}: {bucket(detail, 100)}", message, deprecated)


async def dry_run_batch(
    kube: KubeClient,
    items: Sequence[tuple[dict[str, Any], ResourceInfo]],
    namespace: str,
    concurrency: int = defaults.DATA_VALIDATION_CONCURRENCY,
) -> list[DryRunResult]:
    """Dry-run every object of a batch, `concurrency` requests in flight, in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(obj: dict[str, Any], info: ResourceInfo) -> DryRunResult:
        async with gate:
            return await dry_run_object(kube, obj, info, namespace)

    return list(await asyncio.gather(*(one(obj, info) for obj, info in items)))
