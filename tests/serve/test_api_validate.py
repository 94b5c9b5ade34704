"""`POST /v1/validate` against the session's real control plane: the grader's parse and
scope rules, then the API server's own dry-run verdict, and nothing ever written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from tests.serve.conftest import RunningServer


@pytest.fixture
def validate(start_server: Callable[..., RunningServer]) -> Callable[..., dict[str, Any]]:
    url = start_server(cluster=True).url

    def post(text: str, **extra: Any) -> dict[str, Any]:
        resp = httpx.post(f"{url}/v1/validate", json={"yaml": text, **extra}, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    post.url = url  # type: ignore[attr-defined]
    return post


CONFIGMAP_WITH_SPEC = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  mode: fast
spec:
  replicas: 2
"""


def test_unknown_field_gets_the_servers_strict_decoding_error(validate: Callable[..., Any]) -> None:
    result = validate(CONFIGMAP_WITH_SPEC)
    assert result["valid"] is False
    (doc,) = result["documents"]
    assert (doc["kind"], doc["name"], doc["stage"], doc["valid"]) == (
        "ConfigMap",
        "settings",
        "dry_run",
        False,
    )
    assert 'unknown field "spec"' in doc["message"]
    assert doc["line"] == 1 and doc["line_of_error"] == 8


def test_role_rule_field_typo(validate: Callable[..., Any]) -> None:
    text = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
- apiGroup: [""]
  resources: [pods]
  verbs: [get]
"""
    (doc,) = validate(text)["documents"]
    assert doc["stage"] == "dry_run" and not doc["valid"]
    assert 'unknown field "rules[0].apiGroup"' in doc["message"]
    assert doc["line_of_error"] == 6


def test_line_of_error_follows_the_fields_path(validate: Callable[..., Any]) -> None:
    text = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get]
- apiGroups: [""]
  resources: [secrets]
  verbs: []
"""
    (doc,) = validate(text)["documents"]
    assert not doc["valid"] and doc["causes"][0]["field"] == "rules[1].verbs"
    assert doc["line_of_error"] == 11


def test_bad_name_gets_the_servers_message_and_causes(validate: Callable[..., Any]) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  a: b\n"
    (doc,) = validate(text)["documents"]
    assert doc["stage"] == "dry_run" and not doc["valid"]
    assert doc["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value'
    )
    assert "RFC 1123" in doc["message"]
    (cause,) = doc["causes"]
    assert cause["field"] == "metadata.name" and cause["reason"] == "FieldValueInvalid"
    assert doc["line_of_error"] == 4


async def test_valid_documents_pass_and_nothing_is_written(
    validate: Callable[..., Any], kube: KubeClient
) -> None:
    text = """\
apiVersion: v1
kind: Namespace
metadata:
  name: serve-validate-ns
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: serve-validate-ns
data:
  level: debug
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: serve-validate-reader
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
"""
    result = validate(text)
    assert result["valid"] is True
    assert [(d["kind"], d["line"], d["stage"]) for d in result["documents"]] == [
        ("Namespace", 1, "ok"),
        ("ConfigMap", 6, "ok"),
        ("ClusterRole", 14, "ok"),
    ]
    assert await kube.get("v1", "Namespace", "serve-validate-ns") is None
    rbac = "rbac.authorization.k8s.io/v1"
    assert await kube.get(rbac, "ClusterRole", "serve-validate-reader") is None
    scratch = defaults.SERVE_VALIDATE_NAMESPACE
    assert await kube.list("v1", "ConfigMap", scratch) == []
    namespace = await kube.get("v1", "Namespace", scratch)
    assert namespace is not None
    assert namespace["metadata"]["labels"][defaults.SERVE_VALIDATE_LABEL] == "validation"


def test_an_unserved_api_version_is_the_servers_no_match(validate: Callable[..., Any]) -> None:
    (doc,) = validate("apiVersion: v2\nkind: ConfigMap\nmetadata:\n  name: x\n")["documents"]
    assert doc["stage"] == "dry_run" and not doc["valid"]
    assert doc["message"] == 'no matches for kind "ConfigMap" in version "v2"'


def test_parse_errors_carry_the_line(validate: Callable[..., Any]) -> None:
    result = validate("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n")
    (doc,) = result["documents"]
    assert result["valid"] is False and doc["stage"] == "parse"
    assert doc["line_of_error"] is not None and "invalid YAML" in doc["message"]
    dup = validate("apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: x}\n")
    assert dup["documents"][0]["stage"] == "parse"
    # A parse error in the second document is pinned to that document, not the first.
    second = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n" + (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  name: c\n"
    )
    (doc,) = validate(second)["documents"]
    assert (doc["index"], doc["line"], doc["line_of_error"]) == (1, 6, 10)
    assert doc["message"] == "duplicate key 'name' at line 10 (first at line 9)"
    assert validate("just words, no manifest")["documents"][0]["message"] == (
        "no YAML found in the input"
    )


def test_scope_rules_refuse_before_any_request(validate: Callable[..., Any]) -> None:
    text = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: sneaky
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: everyone-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
"""
    docs = validate(text)["documents"]
    assert [d["stage"] for d in docs] == ["scope", "scope", "scope", "ok"]
    assert "kube-system" in docs[0]["message"]
    assert "system:authenticated" in docs[1]["message"]
    assert "Deployment is not allowed" in docs[2]["message"]
    assert docs[0]["line_of_error"] == 1 and docs[2]["line"] == 14


def test_a_tasks_scope_and_a_markdown_answer(validate: Callable[..., Any]) -> None:
    answer = (
        "Here it is:\n\n```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: app\n  namespace: elsewhere\n```\n"
    )
    docs = validate(answer, task_id="configmap-basic-001")["documents"]
    assert docs[0]["line"] == 4 and docs[0]["stage"] == "scope"
    assert "does not name" in docs[0]["message"]
    resp = httpx.post(
        f"{validate.url}/v1/validate",  # type: ignore[attr-defined]
        json={"yaml": "a: b", "task_id": "nope-001"},
    )
    assert resp.status_code == 404


def test_validation_without_a_control_plane_is_503(serve_url: str) -> None:
    resp = httpx.post(f"{serve_url}/v1/validate", json={"yaml": CONFIGMAP_WITH_SPEC})
    assert resp.status_code == 503
    assert "no control plane" in resp.json()["error"]["message"]
    assert httpx.get(f"{serve_url}/health").json()["validation"] == "unavailable"
