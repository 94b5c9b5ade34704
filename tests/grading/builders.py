"""Hand-built tasks for the grading tests (small, so every test names what it needs)."""

from __future__ import annotations

from typing import Any

from kubebench.tasks.schema import Task


def namespace_obj(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap_yaml(ns: str, name: str = "app-config", mode: str = "fast") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        f"data:\n  mode: {mode}\n"
    )


def configmap_task(ns: str, name: str = "app-config", task_id: str | None = None) -> Task:
    """Create ConfigMap `name` in `ns` with data.mode = fast."""
    return Task.model_validate(
        {
            "id": task_id or f"test-configmap-{ns}",
            "category": "ConfigMap",
            "tier": "basic",
            "prompt": f"Create ConfigMap {name} in {ns} with mode=fast.",
            "setup": [namespace_obj(ns)],
            "allowed_kinds": ["ConfigMap"],
            "namespaces": [ns],
            "expectations": [
                {
                    "type": "object",
                    "ref": {
                        "api_version": "v1",
                        "kind": "ConfigMap",
                        "name": name,
                        "namespace": ns,
                    },
                    "matchers": [{"path": "data.mode", "op": "equals", "value": "fast"}],
                }
            ],
            "reference": configmap_yaml(ns, name),
        }
    )


def role_yaml(ns: str, name: str = "pod-reader") -> str:
    return (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
        f"metadata:\n  name: {name}\n  namespace: {ns}\n"
        'rules:\n- apiGroups: [""]\n  resources: ["pods"]\n  verbs: ["get", "list"]\n'
    )


def role_task(ns: str, name: str = "pod-reader") -> Task:
    """A Role only task, checked behaviourally through a probe user bound in setup."""
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "probe", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [
            {"kind": "User", "name": "probe-user", "apiGroup": "rbac.authorization.k8s.io"}
        ],
    }
    return Task.model_validate(
        {
            "id": f"test-role-{ns}",
            "category": "Role",
            "tier": "basic",
            "prompt": f"Create Role {name} in {ns} that can read pods.",
            "setup": [namespace_obj(ns), binding],
            "allowed_kinds": ["Role"],
            "namespaces": [ns],
            "expectations": [
                {
                    "type": "access",
                    "subject": {"kind": "User", "name": "probe-user"},
                    "allowed": [{"verb": "list", "resource": "pods", "namespace": ns}],
                    "denied": [{"verb": "delete", "resource": "pods", "namespace": ns}],
                }
            ],
            "reference": role_yaml(ns, name),
        }
    )


def clusterrole_task(name: str) -> Task:
    """A ClusterRole task (cluster-scoped names, no namespaces)."""
    return Task.model_validate(
        {
            "id": f"test-clusterrole-{name}",
            "category": "ClusterRole",
            "tier": "basic",
            "prompt": f"Create ClusterRole {name} that can list nodes.",
            "allowed_kinds": ["ClusterRole"],
            "expectations": [
                {
                    "type": "object",
                    "ref": {
                        "api_version": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRole",
                        "name": name,
                    },
                }
            ],
            "reference": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                f'metadata:\n  name: {name}\nrules:\n- apiGroups: [""]\n'
                '  resources: ["nodes"]\n  verbs: ["list"]\n'
            ),
        }
    )


def clusterrolebinding_task(name: str) -> Task:
    """Bind the built-in `view` ClusterRole to group `readers`, cluster-wide."""
    return Task.model_validate(
        {
            "id": f"test-crb-{name}",
            "category": "ClusterRoleBinding",
            "tier": "basic",
            "prompt": f"Create ClusterRoleBinding {name} granting view to group readers.",
            "allowed_kinds": ["ClusterRoleBinding"],
            "expectations": [
                {
                    "type": "access",
                    "subject": {"kind": "Group", "name": "readers"},
                    "allowed": [{"verb": "list", "resource": "pods", "namespace": "default"}],
                }
            ],
            "reference": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
                f"metadata:\n  name: {name}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
                "  kind: ClusterRole\n  name: view\nsubjects:\n- kind: Group\n  name: readers\n"
                "  apiGroup: rbac.authorization.k8s.io\n"
            ),
        }
    )
