"""Object identity: which object a manifest or API object names, and what KubeBench
left on it (its field manager, the attempt label, finalizers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import ResourceInfo
from kubebench.grading.scope import group_of, is_namespaced


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
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


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


def listed_id(info: ResourceInfo, item: Mapping[str, Any]) -> ObjectId:
    """The ObjectId of an item the server listed for `info`."""
    meta = item.get("metadata") or {}
    namespace = meta.get("namespace") if info.namespaced else None
    return ObjectId(info.api_version, info.kind, meta.get("name", ""), namespace)


def written_by_kubebench(obj: Mapping[str, Any]) -> bool:
    """Whether KubeBench's field manager ever wrote this object."""
    managed = (obj.get("metadata") or {}).get("managedFields") or []
    return any(entry.get("manager") == defaults.FIELD_MANAGER for entry in managed)


def has_finalizers(obj: Mapping[str, Any]) -> bool:
    meta, spec = obj.get("metadata"), obj.get("spec")
    return bool(
        (isinstance(meta, dict) and meta.get("finalizers"))
        or (isinstance(spec, dict) and spec.get("finalizers"))
    )


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
