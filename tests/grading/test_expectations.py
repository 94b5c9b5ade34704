"""The expectation checker: matchers on plain dicts, and evaluation on a real cluster."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.grading.expectations import (
    evaluate_expectations,
    evaluate_matcher,
    parse_quantity,
    resolve_path,
    split_path,
    subject_identity,
)
from kubebench.tasks.schema import (
    AccessCheck,
    AccessExpectation,
    FieldMatcher,
    Kind,
    ObjectExpectation,
    ObjectRef,
    Subject,
    Task,
    Tier,
)

RBAC = "rbac.authorization.k8s.io"


def _m(path: str, op: str, value: object = None) -> FieldMatcher:
    return FieldMatcher(path=path, op=op, value=value)  # type: ignore[arg-type]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- pure matchers ------------------------------------------------------------------------


def test_paths_escape_dots_and_index_lists() -> None:
    obj = {"data": {"app.properties": "x=1"}, "subjects": [{"name": "a"}, {"name": "b"}]}
    assert split_path(r"data.app\.properties") == ["data", "app.properties"]
    assert resolve_path(obj, r"data.app\.properties") == "x=1"
    assert resolve_path(obj, "subjects.1.name") == "b"
    assert evaluate_matcher(obj, _m("subjects.5.name", "exists"))[0] is False


@pytest.mark.parametrize(
    ("op", "value", "observed", "ok"),
    [
        ("equals", "Opaque", "Opaque", True),
        ("equals", "Opaque", "kubernetes.io/tls", False),
        ("contains", {"team": "a"}, {"team": "a", "x": "y"}, True),
        ("contains", {"team": "a"}, {"team": "b"}, False),
        ("set_equals", ["get", "list"], ["list", "get", "get"], True),
        ("set_equals", ["get", "list"], ["get"], False),
        ("superset", ["get"], ["get", "list"], True),
        ("superset", ["watch"], ["get", "list"], False),
        ("subset", ["get", "list"], ["get"], True),
        ("subset", ["get"], ["get", "*"], False),
        ("quantities", {"cpu": "500m", "memory": "4Gi"}, {"cpu": "0.5", "memory": "4096Mi"}, True),
        ("quantities", {"memory": "4Gi"}, {"memory": "4G"}, False),
    ],
)
def test_matcher_semantics(op: str, value: object, observed: object, ok: bool) -> None:
    passed, reason, seen = evaluate_matcher({"f": observed}, _m("f", op, value))
    assert passed is ok
    assert seen == observed
    assert bool(reason) is (not ok)


def test_multiline_text_ignores_trailing_newlines_but_not_content() -> None:
    text = "a: 1\nb: 2\n"
    assert evaluate_matcher({"data": {"f": "a: 1\nb: 2"}}, _m("data", "contains", {"f": text}))[0]
    assert not evaluate_matcher(
        {"data": {"f": "a: 1\nb: 3\n"}}, _m("data", "contains", {"f": text})
    )[0]


def test_secret_values_are_compared_decoded() -> None:
    obj = {"data": {"password": _b64("s3cret")}}
    assert evaluate_matcher(obj, _m("password", "secret_equals", "s3cret"))[0]
    passed, reason, observed = evaluate_matcher(obj, _m("password", "secret_equals", "other"))
    assert not passed and observed == "s3cret" and "password" in reason
    assert not evaluate_matcher(obj, _m("username", "secret_equals", "x"))[0]


def test_docker_auth_accepts_username_password_or_auth_field() -> None:
    want = {"registry": "registry.acme-corp.io", "username": "bot", "password": "pw"}
    plain = {"auths": {"registry.acme-corp.io": {"username": "bot", "password": "pw"}}}
    auth = {"auths": {"https://registry.acme-corp.io/": {"auth": _b64("bot:pw")}}}
    wrong = {"auths": {"registry.acme-corp.io": {"auth": _b64("bot:nope")}}}
    other = {"auths": {"quay.io": {"username": "bot", "password": "pw"}}}
    for config, ok in ((plain, True), (auth, True), (wrong, False), (other, False)):
        obj = {"data": {".dockerconfigjson": _b64(json.dumps(config))}}
        assert evaluate_matcher(obj, _m(".dockerconfigjson", "docker_auth", want))[0] is ok
    broken = {"data": {".dockerconfigjson": _b64("{not json")}}
    assert not evaluate_matcher(broken, _m(".dockerconfigjson", "docker_auth", want))[0]


def test_quantities_parse() -> None:
    assert parse_quantity("500m") == parse_quantity("0.5")
    assert parse_quantity("1Gi") == parse_quantity("1024Mi")
    assert parse_quantity("1G") != parse_quantity("1Gi")
    assert parse_quantity("lots") is None


def test_service_account_subjects_get_the_servers_groups() -> None:
    user, groups = subject_identity(Subject(kind="ServiceAccount", name="ci", namespace="build"))
    assert user == "system:serviceaccount:build:ci"
    assert set(groups) == {
        "system:serviceaccounts",
        "system:serviceaccounts:build",
        "system:authenticated",
    }
    user, groups = subject_identity(Subject(kind="Group", name="oidc:sre"))
    assert "oidc:sre" in groups and "system:authenticated" in groups


# -- on the cluster -----------------------------------------------------------------------


def _task(expectations: list) -> Task:
    return Task(
        id="expectations-test",
        category=Kind.Role,
        tier=Tier.basic,
        prompt="test",
        allowed_kinds=["Role"],
        expectations=expectations,
        reference="",
    )


async def _create(kube: KubeClient, *objects: dict) -> None:
    for obj in objects:
        resp = await kube.create(obj)
        assert resp.ok, resp.message


async def test_objects_and_access_on_the_cluster(kube: KubeClient) -> None:
    ns = f"exp-{uuid.uuid4().hex[:8]}"
    user = f"exp-user-{ns}"
    await _create(
        kube,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": ns},
            "stringData": {"password": "hunter2"},
            "immutable": True,
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "reader", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader", "namespace": ns},
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "User", "name": user, "apiGroup": RBAC},
                {"kind": "ServiceAccount", "name": "bot", "namespace": ns},
            ],
        },
    )
    try:
        secret = ObjectRef(api_version="v1", kind="Secret", name="db", namespace=ns)
        task = _task(
            [
                ObjectExpectation(
                    ref=secret,
                    matchers=[
                        _m("password", "secret_equals", "hunter2"),
                        _m("immutable", "equals", True),
                        _m("type", "equals", "kubernetes.io/tls"),  # wrong on purpose
                    ],
                ),
                ObjectExpectation(
                    ref=ObjectRef(api_version="v1", kind="ConfigMap", name="nope", namespace=ns)
                ),
                AccessExpectation(
                    subject=Subject(kind="User", name=user),
                    allowed=[AccessCheck(verb="get", resource="pods", namespace=ns)],
                    denied=[
                        AccessCheck(verb="delete", resource="pods", namespace=ns),
                        AccessCheck(verb="list", resource="pods", namespace=ns),  # wrong
                    ],
                ),
                AccessExpectation(
                    subject=Subject(kind="ServiceAccount", name="bot", namespace=ns),
                    allowed=[AccessCheck(verb="list", resource="pods", namespace=ns)],
                ),
            ]
        )
        results = await evaluate_expectations(task, kube, deadline_s=5.0)
        by_index: dict[int, list] = {}
        for r in results:
            by_index.setdefault(r.index, []).append(r)
        assert [r.passed for r in by_index[0]] == [True, True, False]
        assert by_index[0][2].observed == "Opaque"
        assert [r.passed for r in by_index[1]] == [False]
        assert "not found" in by_index[1][0].reason
        assert [r.passed for r in by_index[2]] == [True, True, False]
        assert by_index[2][2].observed["allowed"] is True
        assert "must not" in by_index[2][2].reason
        assert [r.passed for r in by_index[3]] == [True]
        assert all(r.kind == "access" for r in by_index[2])
    finally:
        await kube.delete("v1", "Namespace", ns)


async def test_denied_checks_wait_for_allowed_grants_to_show(kube: KubeClient) -> None:
    """A too-broad rule written just now must fail its denied check: denied reviews run
    only after the allowed ones have seen the new grant."""
    name = f"exp-wide-{uuid.uuid4().hex[:8]}"
    user = f"exp-user-{name}"
    binding = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "User", "name": user, "apiGroup": RBAC}],
    }
    role = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["*"]}],
    }
    await _create(kube, binding, role)
    try:
        task = _task(
            [
                AccessExpectation(
                    subject=Subject(kind="User", name=user),
                    allowed=[AccessCheck(verb="get", resource="nodes")],
                    denied=[AccessCheck(verb="delete", resource="nodes")],
                )
            ]
        )
        results = await evaluate_expectations(task, kube, deadline_s=10.0)
        assert [r.passed for r in results] == [True, False]
    finally:
        await kube.delete(f"{RBAC}/v1", "ClusterRoleBinding", name)
        await kube.delete(f"{RBAC}/v1", "ClusterRole", name)


async def test_aggregated_cluster_role_rules_are_awaited(kube: KubeClient) -> None:
    name = f"exp-agg-{uuid.uuid4().hex[:8]}"
    label = {f"rbac.example.com/aggregate-to-{name}": "true"}
    parent = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]},
    }
    child = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{name}-part", "labels": label},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
    }
    await _create(kube, parent, child)
    try:
        ref = ObjectRef(api_version=f"{RBAC}/v1", kind="ClusterRole", name=name)
        rule = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}
        task = _task([ObjectExpectation(ref=ref, matchers=[_m("rules", "superset", [rule])])])
        results = await evaluate_expectations(task, kube, deadline_s=15.0)
        assert [r.passed for r in results] == [True], results
    finally:
        await kube.delete(f"{RBAC}/v1", "ClusterRole", name)
        await kube.delete(f"{RBAC}/v1", "ClusterRole", f"{name}-part")
