"""Permission profiles for RBAC scenarios: what a role grants, spelled out verb by verb,
and what it must not allow, each with the SubjectAccessReview that proves it.

A profile's prompt text names every verb and resource its checks assert, so any rule
layout that grants exactly that passes, and a wildcard fails the forbidden checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubebench.tasks.authoring.drafting import code, join_words, rule, url_rule, verbs_text
from kubebench.tasks.schema import AccessCheck


@dataclass(frozen=True)
class Grant:
    """Verbs on one resource (optionally a subresource or named objects), or on URLs."""

    verbs: tuple[str, ...]
    resource: str = ""  # plural, with "/sub" for a subresource
    group: str = ""
    names: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def rule(self) -> dict[str, Any]:
        if self.urls:
            return url_rule(list(self.verbs), list(self.urls))
        return rule(list(self.verbs), [self.resource], [self.group], list(self.names) or None)

    def text(self) -> str:
        if self.urls:
            return f"{verbs_text(list(self.verbs))} on the non-resource URL " + join_words(
                [code(u) for u in self.urls]
            )
        what = code(self.resource)
        if self.group:
            what += f" ({code(self.group)})"
        elif "/" not in self.resource and self.resource in _CORE_AMBIGUOUS:
            what += " (core API group)"
        if self.names:
            what += " named " + join_words([code(n) for n in self.names], "or")
        return f"{verbs_text(list(self.verbs))} on {what}"

    def checks(self, ns: str) -> list[AccessCheck]:
        if self.urls:
            return [AccessCheck(verb=v, non_resource_url=u) for v in self.verbs for u in self.urls]
        res, _, sub = self.resource.partition("/")
        names = self.names or ("",)
        return [
            AccessCheck(
                verb=v, resource=res, subresource=sub, group=self.group, namespace=ns, name=n
            )
            for v in self.verbs
            for n in names
        ]


_CORE_AMBIGUOUS = {"events"}


@dataclass(frozen=True)
class Forbidden:
    """Something the prompt says must not be possible, and the review that proves it."""

    text: str
    verb: str
    resource: str = ""
    group: str = ""
    name: str = ""
    url: str | None = None
    cluster: bool = False  # a cluster-scoped resource: ask without a namespace

    def check(self, ns: str) -> AccessCheck:
        if self.url is not None:
            return AccessCheck(verb=self.verb, non_resource_url=self.url)
        res, _, sub = self.resource.partition("/")
        return AccessCheck(
            verb=self.verb,
            resource=res,
            subresource=sub,
            group=self.group,
            namespace="" if self.cluster else ns,
            name=self.name,
        )


@dataclass(frozen=True)
class Profile:
    """A job a subject does, the grants it needs, and what it must not do."""

    key: str
    purpose: str
    grants: tuple[Grant, ...]
    forbidden: tuple[Forbidden, ...] = ()
    role_stem: str = ""

    def rules(self) -> list[dict[str, Any]]:
        return [g.rule() for g in self.grants]

    def allowed_checks(self, ns: str) -> list[AccessCheck]:
        return [c for g in self.grants for c in g.checks(ns)]

    def denied_checks(self, ns: str) -> list[AccessCheck]:
        return [f.check(ns) for f in self.forbidden]

    def grant_text(self) -> str:
        return join_words([g.text() for g in self.grants], "plus")

    def forbidden_text(self) -> str:
        return join_words([f.text for f in self.forbidden], "or")


ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
READ = ("get", "list", "watch")


def namespaced_profiles(draw_name: Callable[[str], str]) -> list[Profile]:
    """Profiles for namespaced roles; `draw_name(kind)` names objects for resourceNames."""
    secret_name, cm_name = draw_name("secret"), draw_name("configmap")
    lease_name = draw_name("lease")
    return [
        Profile(
            "log-reader",
            "read pod logs",
            (Grant(("get", "list"), "pods"), Grant(("get",), "pods/log")),
            (
                Forbidden("exec into pods", "create", "pods/exec"),
                Forbidden("delete pods", "delete", "pods"),
                Forbidden("read Secrets", "get", "secrets"),
            ),
            "log-reader",
        ),
        Profile(
            "deployer",
            "roll out Deployments",
            (Grant(("get", "list", "watch", "update", "patch"), "deployments", "apps"),),
            (
                Forbidden("delete Deployments", "delete", "deployments", "apps"),
                Forbidden("create Deployments", "create", "deployments", "apps"),
                Forbidden("read Secrets", "get", "secrets"),
            ),
            "deployer",
        ),
        Profile(
            "job-runner",
            "run batch Jobs",
            (
                Grant(("create", "get", "list", "watch", "delete"), "jobs", "batch"),
                Grant(("get",), "pods/log"),
            ),
            (
                Forbidden("create CronJobs", "create", "cronjobs", "batch"),
                Forbidden("delete Pods directly", "delete", "pods"),
            ),
            "job-runner",
        ),
        Profile(
            "config-editor",
            "maintain application config",
            (Grant(("get", "list", "watch", "update", "patch"), "configmaps"),),
            (
                Forbidden("delete ConfigMaps", "delete", "configmaps"),
                Forbidden("create new ConfigMaps", "create", "configmaps"),
                Forbidden("read Secrets", "get", "secrets"),
            ),
            "config-editor",
        ),
        Profile(
            "scaler",
            "scale Deployments",
            (
                Grant(("get", "list"), "deployments", "apps"),
                Grant(("get", "update", "patch"), "deployments/scale", "apps"),
            ),
            (
                Forbidden(
                    "edit the Deployment objects themselves (no update of deployments)",
                    "update",
                    "deployments",
                    "apps",
                ),
                Forbidden("delete Deployments", "delete", "deployments", "apps"),
            ),
            "scaler",
        ),
        Profile(
            "port-forwarder",
            "port-forward to pods for debugging",
            (Grant(("get", "list"), "pods"), Grant(("create",), "pods/portforward")),
            (
                Forbidden("exec into pods", "create", "pods/exec"),
                Forbidden("delete pods", "delete", "pods"),
            ),
            "port-forward",
        ),
        Profile(
            "event-watcher",
            "watch events",
            (Grant(READ, "events"),),
            (
                Forbidden("delete events", "delete", "events"),
                Forbidden("read Pods' logs", "get", "pods/log"),
            ),
            "event-watcher",
        ),
        Profile(
            "secret-rotator",
            "rotate one Secret",
            (Grant(("get", "update", "patch"), "secrets", names=(secret_name,)),),
            (
                Forbidden("list Secrets", "list", "secrets"),
                Forbidden("touch any other Secret", "get", "secrets", name=f"{secret_name}-old"),
                Forbidden(f"delete {code(secret_name)}", "delete", "secrets", name=secret_name),
            ),
            "secret-rotator",
        ),
        Profile(
            "cronjob-manager",
            "manage CronJobs",
            (Grant(ALL_VERBS, "cronjobs", "batch"),),
            (
                Forbidden("create Jobs directly", "create", "jobs", "batch"),
                Forbidden("delete Pods", "delete", "pods"),
            ),
            "cronjob-manager",
        ),
        Profile(
            "leader-election",
            "hold a leader-election Lease",
            (
                Grant(
                    ("get", "update", "patch"), "leases", "coordination.k8s.io", names=(lease_name,)
                ),
                Grant(("create",), "leases", "coordination.k8s.io"),
            ),
            (
                Forbidden(
                    "delete Leases", "delete", "leases", "coordination.k8s.io", name=lease_name
                ),
                Forbidden(
                    "update any other Lease",
                    "update",
                    "leases",
                    "coordination.k8s.io",
                    name=f"{lease_name}-shadow",
                ),
            ),
            "leader-election",
        ),
        Profile(
            "ingress-manager",
            "manage Ingresses",
            (Grant(ALL_VERBS, "ingresses", "networking.k8s.io"),),
            (
                Forbidden("read Secrets", "get", "secrets"),
                Forbidden(
                    "touch NetworkPolicies", "update", "networkpolicies", "networking.k8s.io"
                ),
            ),
            "ingress-manager",
        ),
        Profile(
            "hpa-manager",
            "manage autoscalers",
            (
                Grant(ALL_VERBS, "horizontalpodautoscalers", "autoscaling"),
                Grant(READ, "deployments", "apps"),
            ),
            (
                Forbidden("modify Deployments", "update", "deployments", "apps"),
                Forbidden("delete Deployments", "delete", "deployments", "apps"),
            ),
            "autoscaler-manager",
        ),
        Profile(
            "config-reader",
            "read one ConfigMap",
            (Grant(("get", "watch"), "configmaps", names=(cm_name,)),),
            (
                Forbidden("list ConfigMaps", "list", "configmaps"),
                Forbidden("read other ConfigMaps", "get", "configmaps", name=f"{cm_name}-legacy"),
                Forbidden(f"modify {code(cm_name)}", "update", "configmaps", name=cm_name),
            ),
            "config-reader",
        ),
        Profile(
            "statefulset-operator",
            "operate StatefulSets",
            (
                Grant(("get", "list", "watch", "patch"), "statefulsets", "apps"),
                Grant(("get", "list", "delete"), "pods"),
            ),
            (
                Forbidden("delete StatefulSets", "delete", "statefulsets", "apps"),
                Forbidden("delete PersistentVolumeClaims", "delete", "persistentvolumeclaims"),
            ),
            "statefulset-operator",
        ),
    ]


def cluster_profiles(draw_name: Callable[[], str]) -> list[Profile]:
    """Profiles for ClusterRoles (cluster-scoped resources, all namespaces, URLs)."""
    csr_name = draw_name()
    return [
        Profile(
            "node-reader",
            "read nodes",
            (Grant(READ, "nodes"),),
            (
                Forbidden("modify nodes (no update/patch)", "update", "nodes", cluster=True),
                Forbidden("delete nodes", "delete", "nodes", cluster=True),
            ),
            "node-reader",
        ),
        Profile(
            "namespace-viewer",
            "list namespaces",
            (Grant(READ, "namespaces"),),
            (
                Forbidden("create namespaces", "create", "namespaces", cluster=True),
                Forbidden("delete namespaces", "delete", "namespaces", cluster=True),
            ),
            "namespace-viewer",
        ),
        Profile(
            "metrics-scraper",
            "scrape metrics",
            (
                Grant(("get",), urls=("/metrics",)),
                Grant(READ, "nodes"),
                Grant(("get",), "nodes/metrics"),
            ),
            (
                Forbidden(f"reach {code('/debug/pprof')}", "get", url="/debug/pprof"),
                Forbidden("delete nodes", "delete", "nodes", cluster=True),
            ),
            "metrics-scraper",
        ),
        Profile(
            "crd-reader",
            "discover CustomResourceDefinitions",
            (Grant(READ, "customresourcedefinitions", "apiextensions.k8s.io"),),
            (
                Forbidden(
                    "delete CRDs",
                    "delete",
                    "customresourcedefinitions",
                    "apiextensions.k8s.io",
                    cluster=True,
                ),
                Forbidden(
                    "create CRDs",
                    "create",
                    "customresourcedefinitions",
                    "apiextensions.k8s.io",
                    cluster=True,
                ),
            ),
            "crd-reader",
        ),
        Profile(
            "storage-admin",
            "manage PersistentVolumes",
            (
                Grant(("get", "list", "watch", "create", "delete"), "persistentvolumes"),
                Grant(READ, "storageclasses", "storage.k8s.io"),
            ),
            (
                Forbidden(
                    "change StorageClasses",
                    "update",
                    "storageclasses",
                    "storage.k8s.io",
                    cluster=True,
                ),
                Forbidden(
                    "delete StorageClasses",
                    "delete",
                    "storageclasses",
                    "storage.k8s.io",
                    cluster=True,
                ),
            ),
            "storage-admin",
        ),
        Profile(
            "pod-log-reader",
            "read pods and their logs in every namespace",
            (Grant(READ, "pods"), Grant(("get",), "pods/log")),
            (
                Forbidden("read Secrets", "get", "secrets"),
                Forbidden("delete pods", "delete", "pods"),
                Forbidden("exec into pods", "create", "pods/exec"),
            ),
            "pod-log-reader",
        ),
        Profile(
            "rbac-auditor",
            "audit RBAC",
            (
                Grant(READ, "roles", "rbac.authorization.k8s.io"),
                Grant(READ, "rolebindings", "rbac.authorization.k8s.io"),
                Grant(READ, "clusterroles", "rbac.authorization.k8s.io"),
                Grant(READ, "clusterrolebindings", "rbac.authorization.k8s.io"),
            ),
            (
                Forbidden("create bindings", "create", "rolebindings", "rbac.authorization.k8s.io"),
                Forbidden(
                    "delete ClusterRoles",
                    "delete",
                    "clusterroles",
                    "rbac.authorization.k8s.io",
                    cluster=True,
                ),
            ),
            "rbac-auditor",
        ),
        Profile(
            "csr-approver",
            "approve certificate signing requests",
            (
                Grant(READ, "certificatesigningrequests", "certificates.k8s.io"),
                Grant(("update",), "certificatesigningrequests/approval", "certificates.k8s.io"),
            ),
            (
                Forbidden(
                    "delete CSRs",
                    "delete",
                    "certificatesigningrequests",
                    "certificates.k8s.io",
                    name=csr_name,
                    cluster=True,
                ),
                Forbidden(
                    "create CSRs",
                    "create",
                    "certificatesigningrequests",
                    "certificates.k8s.io",
                    cluster=True,
                ),
            ),
            "csr-approver",
        ),
        Profile(
            "webhook-auditor",
            "inspect admission webhooks",
            (
                Grant(READ, "validatingwebhookconfigurations", "admissionregistration.k8s.io"),
                Grant(READ, "mutatingwebhookconfigurations", "admissionregistration.k8s.io"),
            ),
            (
                Forbidden(
                    "change webhook configurations",
                    "update",
                    "validatingwebhookconfigurations",
                    "admissionregistration.k8s.io",
                    cluster=True,
                ),
                Forbidden(
                    "delete them",
                    "delete",
                    "mutatingwebhookconfigurations",
                    "admissionregistration.k8s.io",
                    cluster=True,
                ),
            ),
            "webhook-auditor",
        ),
        Profile(
            "priority-viewer",
            "read scheduling priorities",
            (
                Grant(READ, "priorityclasses", "scheduling.k8s.io"),
                Grant(READ, "ingressclasses", "networking.k8s.io"),
            ),
            (
                Forbidden(
                    "create PriorityClasses",
                    "create",
                    "priorityclasses",
                    "scheduling.k8s.io",
                    cluster=True,
                ),
            ),
            "class-viewer",
        ),
        Profile(
            "workload-viewer",
            "read workloads everywhere",
            (
                Grant(READ, "deployments", "apps"),
                Grant(READ, "statefulsets", "apps"),
                Grant(READ, "daemonsets", "apps"),
            ),
            (
                Forbidden("scale or modify Deployments", "update", "deployments", "apps"),
                Forbidden("read Secrets", "get", "secrets"),
            ),
            "workload-viewer",
        ),
    ]
