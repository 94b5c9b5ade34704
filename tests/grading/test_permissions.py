"""Exact RBAC grants and who gains access, judged by the API server's rules reviews."""

from __future__ import annotations

import uuid
from typing import Any

import yaml

from kubebench.cluster.client import KubeClient
from kubebench.grading.permissions import (
    CLUSTER,
    Permission,
    RulesReviews,
    binding_subjects,
    rule_permissions,
    subject_identity,
    swept_permissions,
)
from kubebench.grading.pipeline import grade_answer
from kubebench.grading.verdict import Stage, Verdict
from kubebench.tasks.authoring.drafting import expect_permissions, expect_subjects, user
from kubebench.tasks.schema import Subject, Task

RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = f"{RBAC}/v1"
PODS_READ = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}


def _ns(prefix: str = "perm") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _role(kind: str, name: str, ns: str | None, rules: list[dict[str, Any]]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} | ({"namespace": ns} if ns else {})
    return {"apiVersion": RBAC_V1, "kind": kind, "metadata": meta, "rules": rules}


def _binding(
    kind: str, name: str, ns: str | None, role_kind: str, role: str, subjects: list[dict]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} | ({"namespace": ns} if ns else {})
    return {
        "apiVersion": RBAC_V1,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": RBAC}


def _yaml(*objects: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def _task(ns: str, expectations: list, *, kinds: list[str], setup: list | None = None) -> Task:
    return Task(
        id=f"perm-{ns}",
        category="Role",
        tier="basic",
        prompt="test",
        setup=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, *(setup or [])],
        allowed_kinds=kinds,
        namespaces=[ns],
        expectations=expectations,
        reference="",
    )


def _failed(verdict: Verdict, kind: str) -> list:
    return [e for e in verdict.expectations if e.kind == kind and not e.passed]


# -- pure -------------------------------------------------------------------------------


def test_rules_become_single_permissions_with_wildcards_kept() -> None:
    got = rule_permissions(
        {"apiGroups": ["", "apps"], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["a"]}
    )
    assert got == {Permission("get", "", "pods", "a"), Permission("get", "apps", "pods", "a")}
    assert rule_permissions({"verbs": ["get"], "nonResourceURLs": ["/metrics"]}) == {
        Permission("get", url="/metrics")
    }
    wild = rule_permissions({"apiGroups": [""], "resources": ["pods/*"], "verbs": ["*"]})
    assert all(p.wildcard for p in wild)
    assert (
        Permission("delete", "", "pods").describe("shop") == "delete pods (core) in namespace shop"
    )
    assert Permission("get", "", "nodes").describe(CLUSTER) == "get nodes (core) cluster-wide"


def test_binding_subjects_default_a_service_accounts_namespace_to_the_bindings() -> None:
    rb = _binding(
        "RoleBinding", "b", "shop", "Role", "r", [{"kind": "ServiceAccount", "name": "x"}]
    )
    crb = _binding("ClusterRoleBinding", "c", None, "ClusterRole", "r", [_user("ann")])
    assert binding_subjects([rb, crb, {"kind": "ConfigMap"}]) == [
        (Subject(kind="ServiceAccount", name="x", namespace="shop"), "shop"),
        (Subject(kind="User", name="ann"), CLUSTER),
    ]


# -- on the cluster: exact grants ----------------------------------------------------------


async def test_exact_grant_passes_and_spellings_that_grant_nothing_more_too(
    kube: KubeClient,
) -> None:
    """Rules split differently, verbs repeated, and a cross product naming resources the
    server does not serve in that group (apps/pods, core/deployments) are all exact."""
    ns = _ns()
    probe = f"probe-{ns}"
    grant = [PODS_READ, {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]
    bind = _binding("RoleBinding", "probe", ns, "Role", "r", [_user(probe)])
    task = _task(ns, [expect_permissions(user(probe), {ns: grant})], kinds=["Role"], setup=[bind])
    answers = [
        _role("Role", "r", ns, grant),
        _role(
            "Role",
            "r",
            ns,
            [
                {"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "get"]},
            ],
        ),
    ]
    for answer in answers:
        verdict = await grade_answer(task, _yaml(answer), kube, wait_for_cleanup=True)
        assert verdict.success, verdict.reason


async def test_verdict_lists_every_extra_permission(kube: KubeClient) -> None:
    """An extra verb, an extra resource and a wildcard are each named with verb,
    resource, API group and namespace, in the reason and in `observed`."""
    ns = _ns()
    probe = f"probe-{ns}"
    bind = _binding("RoleBinding", "probe", ns, "Role", "r", [_user(probe)])
    task = _task(
        ns, [expect_permissions(user(probe), {ns: [PODS_READ]})], kinds=["Role"], setup=[bind]
    )
    answer = _role(
        "Role",
        "r",
        ns,
        [
            {
                "apiGroups": [""],
                "resources": ["pods", "secrets"],
                "verbs": ["get", "list", "delete"],
            },
            {"apiGroups": ["batch"], "resources": ["*"], "verbs": ["get"]},
        ],
    )
    verdict = await grade_answer(task, _yaml(answer), kube, wait_for_cleanup=True)
    assert verdict.stage == Stage.expectations
    (result,) = _failed(verdict, "permissions")
    extra = result.observed["extra"]
    assert {"verb": "delete", "resource": "pods", "api_group": "", "namespace": ns} in extra
    assert {"verb": "get", "resource": "secrets", "api_group": "", "namespace": ns} in extra
    assert {"verb": "get", "resource": "*", "api_group": "batch", "namespace": ns} in extra
    assert len(extra) == 5  # delete pods; get, list, delete secrets; get batch/*
    assert result.observed["missing"] == []
    assert "5 extra permission(s)" in verdict.reason
    assert f"delete pods (core) in namespace {ns}" in verdict.reason


async def test_missing_grant_is_named_and_a_wildcard_is_not_called_missing(
    kube: KubeClient,
) -> None:
    ns = _ns()
    probe = f"probe-{ns}"
    bind = _binding("RoleBinding", "probe", ns, "Role", "r", [_user(probe)])
    task = _task(
        ns, [expect_permissions(user(probe), {ns: [PODS_READ]})], kinds=["Role"], setup=[bind]
    )
    short = _role("Role", "r", ns, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    verdict = await grade_answer(task, _yaml(short), kube, wait_for_cleanup=True)
    (result,) = _failed(verdict, "permissions")
    assert result.observed["missing"] == [
        {"verb": "list", "resource": "pods", "api_group": "", "namespace": ns}
    ]
    assert result.observed["extra"] == []
    wide = _role("Role", "r", ns, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}])
    verdict = await grade_answer(task, _yaml(wide), kube, wait_for_cleanup=True)
    (result,) = _failed(verdict, "permissions")
    assert result.observed["missing"] == []  # the server allows get and list: not missing
    assert [e["verb"] for e in result.observed["extra"]] == ["*"]


async def test_a_role_widened_to_a_cluster_role_is_an_extra_everywhere(kube: KubeClient) -> None:
    """Where the answer may write cluster-wide bindings, the same rules granted through
    a ClusterRoleBinding show up as cluster-wide extras (the review in a namespace that
    never exists holds only cluster-wide grants)."""
    ns = _ns()
    who = f"ann-{ns}"
    task = _task(
        ns,
        [expect_permissions(user(who), {ns: [PODS_READ]})],
        kinds=["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    )
    good = [
        _role("Role", "r", ns, [PODS_READ]),
        _binding("RoleBinding", "r", ns, "Role", "r", [_user(who)]),
    ]
    verdict = await grade_answer(task, _yaml(*good), kube, wait_for_cleanup=True)
    assert verdict.success, verdict.reason
    name = f"wide-{ns}"
    wide = [
        _role("ClusterRole", name, None, [PODS_READ]),
        _binding("ClusterRoleBinding", name, None, "ClusterRole", name, [_user(who)]),
    ]
    verdict = await grade_answer(task, _yaml(*wide), kube, wait_for_cleanup=True)
    (result,) = _failed(verdict, "permissions")
    assert {e["namespace"] for e in result.observed["extra"]} == {"*"}
    assert {e["verb"] for e in result.observed["extra"]} == {"get", "list"}
    assert "cluster-wide" in verdict.reason


async def test_cluster_wide_grant_is_proven_outside_any_namespace(kube: KubeClient) -> None:
    """A cluster-wide grant given only inside the task's namespace is missing."""
    ns = _ns()
    who = f"bob-{ns}"
    task = _task(
        ns,
        [expect_permissions(user(who), {"": [PODS_READ]})],
        kinds=["ClusterRole", "ClusterRoleBinding", "RoleBinding"],
    )
    name = f"pods-{ns}"
    inside = [
        _role("ClusterRole", name, None, [PODS_READ]),
        _binding("RoleBinding", "r", ns, "ClusterRole", name, [_user(who)]),
    ]
    verdict = await grade_answer(task, _yaml(*inside), kube, wait_for_cleanup=True)
    (result,) = _failed(verdict, "permissions")
    assert {(e["verb"], e["namespace"]) for e in result.observed["missing"]} == {
        ("get", "*"),
        ("list", "*"),
    }
    everywhere = [
        inside[0],
        _binding("ClusterRoleBinding", name, None, "ClusterRole", name, [_user(who)]),
    ]
    verdict = await grade_answer(task, _yaml(*everywhere), kube, wait_for_cleanup=True)
    assert verdict.success, verdict.reason


# -- on the cluster: who gains access --------------------------------------------------------


async def test_extra_subjects_that_gain_access_fail_and_are_named(kube: KubeClient) -> None:
    ns = _ns()
    who = f"carol-{ns}"
    role = _role("Role", "r", ns, [PODS_READ])
    task = _task(
        ns,
        [expect_permissions(user(who), {ns: [PODS_READ]}), expect_subjects([user(who)])],
        kinds=["RoleBinding"],
        setup=[role],
    )
    sa = {"kind": "ServiceAccount", "name": "ci"}  # namespace: the binding's
    for extra, text in (
        (_user(f"mallory-{ns}"), f"User mallory-{ns}"),
        # (a system: group is refused earlier, at scope: tests/grading/test_scope.py)
        ({"kind": "Group", "name": f"ops-{ns}", "apiGroup": RBAC}, f"Group ops-{ns}"),
        (sa, f"ServiceAccount {ns}/ci"),
    ):
        answer = _binding("RoleBinding", "r", ns, "Role", "r", [_user(who), extra])
        verdict = await grade_answer(task, _yaml(answer), kube, wait_for_cleanup=True)
        (result,) = _failed(verdict, "subjects")
        assert text in result.reason, result.reason
        gains = result.observed["extra_subjects"][0]["gains"]
        assert {"verb": "list", "resource": "pods", "api_group": "", "namespace": ns} in gains
    exact = _binding("RoleBinding", "r", ns, "Role", "r", [_user(who)])
    verdict = await grade_answer(task, _yaml(exact), kube, wait_for_cleanup=True)
    assert verdict.success, verdict.reason


async def test_an_extra_subject_that_gains_nothing_is_not_an_over_grant(kube: KubeClient) -> None:
    """A subject named in a binding to a role that does not exist gains nothing."""
    ns = _ns()
    who = f"dave-{ns}"
    role = _role("Role", "r", ns, [PODS_READ])
    task = _task(ns, [expect_subjects([user(who)])], kinds=["RoleBinding"], setup=[role])
    answer = [
        _binding("RoleBinding", "r", ns, "Role", "r", [_user(who)]),
        _binding("RoleBinding", "ghost", ns, "Role", "no-such-role", [_user(f"eve-{ns}")]),
    ]
    verdict = await grade_answer(task, _yaml(*answer), kube, wait_for_cleanup=True)
    assert verdict.success, verdict.reason


# -- the fallback where a rules review is incomplete ---------------------------------------------


async def test_access_review_sweep_agrees_with_the_rules_review(kube: KubeClient) -> None:
    ns = _ns()
    who = f"frank-{ns}"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        _role(
            "Role",
            "r",
            ns,
            [PODS_READ, {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["watch"]}],
        ),
        _binding("RoleBinding", "r", ns, "Role", "r", [_user(who)]),
    ]
    for obj in objects:
        assert (await kube.create(obj)).ok
    try:
        name, groups = subject_identity(user(who))
        reviews = RulesReviews(kube)
        twin = await reviews.permissions("kubebench:twin", groups, CLUSTER)
        by_rules = await reviews.permissions(name, groups, ns)
        swept = await swept_permissions(kube, name, groups, ns)
        swept_twin = await swept_permissions(kube, "kubebench:twin", groups, ns)
        resources = {p for p in by_rules - twin if not p.url}
        assert (
            resources
            == swept - swept_twin
            == {
                Permission("get", "", "pods"),
                Permission("list", "", "pods"),
                Permission("watch", "apps", "deployments"),
            }
        )
    finally:
        await kube.delete("v1", "Namespace", ns)
