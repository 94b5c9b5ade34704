"""Related objects of one file, grouped: a binding with its role and subjects, a
workload with its ServiceAccount, ConfigMaps and Secrets. Union-find over names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kubebench import defaults

_PROVIDES = {
    "ServiceAccount": "sa",
    "Role": "role",
    "ClusterRole": "clusterrole",
    "ConfigMap": "configmap",
    "Secret": "secret",
}


def _name(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def references(obj: dict[str, Any]) -> set[tuple[str, str]]:
    """(class, name) of the objects this one points at."""
    out: set[tuple[str, str]] = set()
    kind = obj.get("kind")
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef")
        if isinstance(ref, dict) and ref.get("kind") in ("Role", "ClusterRole"):
            out.add((_PROVIDES[str(ref["kind"])], str(ref.get("name"))))
        for subject in obj.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                out.add(("sa", str(subject.get("name"))))
        return out
    for node in _walk(obj.get("spec")):
        if isinstance(node.get("serviceAccountName"), str):
            out.add(("sa", node["serviceAccountName"]))
        for key, cls, field in (
            ("configMap", "configmap", "name"),
            ("configMapRef", "configmap", "name"),
            ("configMapKeyRef", "configmap", "name"),
            ("secret", "secret", "secretName"),
            ("secretRef", "secret", "name"),
            ("secretKeyRef", "secret", "name"),
        ):
            ref = node.get(key)
            if isinstance(ref, dict) and isinstance(ref.get(field), str):
                out.add((cls, ref[field]))
    return out


def group_related(
    objs: Sequence[dict[str, Any]], max_size: int = defaults.DATA_MAX_GROUP_OBJECTS
) -> list[list[int]]:
    """Indices of `objs` in groups (file order kept), each at most `max_size` long."""
    parent = list(range(len(objs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    providers: dict[tuple[str, str], int] = {}
    for i, obj in enumerate(objs):
        cls = _PROVIDES.get(str(obj.get("kind")))
        if cls and _name(obj):
            providers.setdefault((cls, _name(obj)), i)
    for i, obj in enumerate(objs):
        for ref in references(obj):
            j = providers.get(ref)
            if j is not None:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(objs)):
        groups.setdefault(find(i), []).append(i)
    out: list[list[int]] = []
    for members in sorted(groups.values(), key=lambda m: m[0]):
        out += [members[k : k + max_size] for k in range(0, len(members), max_size)]
    return out
