"""The async API client: discovery, warnings, failures, and external-cluster safety."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane, free_port
from kubebench.cluster.kubeconfig import Connection, load_kubeconfig
from kubebench.cluster.session import cluster_connection, require_write_permission
from kubebench.errors import InfrastructureError, UserError


async def test_discovery_maps_kinds_to_resources(kube: KubeClient) -> None:
    role = await kube.resource("rbac.authorization.k8s.io/v1", "Role")
    assert role is not None and role.plural == "roles" and role.namespaced
    crb = await kube.resource("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
    assert crb is not None and not crb.namespaced
    assert crb.path(name="x") == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x"
    ns = await kube.resource("v1", "Namespace")
    assert ns is not None and ns.path(name="a") == "/api/v1/namespaces/a"
    assert await kube.resource("v1", "NoSuchKind") is None


async def test_server_warnings_are_recorded(kube: KubeClient) -> None:
    # A Secret with both data and an unused field warns rather than fails under Warn.
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "warned", "namespace": "default"},
        "unexpected": True,
    }
    resp = await kube.apply(doc, dry_run=True, field_validation="Warn")
    assert resp.ok
    assert any('unknown field "unexpected"' in w for w in resp.warnings)


async def test_a_status_keeps_its_reason_and_every_cause(kube: KubeClient) -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "Not_A_Name", "namespace": "default"},
        "data": {"bad key!": "x"},
    }
    resp = await kube.create(bad, dry_run=True)
    assert resp.status_code == 422 and resp.reason == "Invalid"
    assert sorted(c.field for c in resp.causes) == ["data[bad key!]", "metadata.name"]
    assert all(c.reason == "FieldValueInvalid" and c.message for c in resp.causes)


async def test_a_forbidden_read_is_an_infrastructure_error_not_absent(
    kube: KubeClient, connection: Connection
) -> None:
    """A ServiceAccount with no grants may not read ConfigMaps: that says nothing about
    whether one exists, so `get` and `list` raise instead of answering "absent"."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kc-forbidden"}}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}}
    assert (await kube.create(ns)).ok
    try:
        assert (await kube.create(sa, namespace="kc-forbidden")).ok
        accounts = await kube.resource("v1", "ServiceAccount")
        assert accounts is not None
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
        path = accounts.path("kc-forbidden", "nobody", subresource="token")
        minted = await kube.request("POST", path, body=request)
        assert minted.ok, minted.message
        token = (minted.body or {})["status"]["token"]
        weak = Connection(server=connection.server, ca_file=connection.ca_file, token=token)
        async with KubeClient(weak) as nobody:
            with pytest.raises(InfrastructureError, match="Forbidden"):
                await nobody.get("v1", "ConfigMap", "anything", "kc-forbidden")
            with pytest.raises(InfrastructureError, match="Forbidden"):
                await nobody.list("v1", "ConfigMap", "kc-forbidden")
            assert await kube.get("v1", "ConfigMap", "anything", "kc-forbidden") is None
    finally:
        await kube.delete("v1", "Namespace", "kc-forbidden")


async def test_dead_api_server_is_an_infrastructure_error(connection: Connection) -> None:
    dead = Connection(
        server=f"https://127.0.0.1:{free_port()}",
        ca_file=connection.ca_file,
        cert_file=connection.cert_file,
        key_file=connection.key_file,
        managed=True,
    )
    async with KubeClient(dead, timeout_s=2) as kube:
        with pytest.raises(InfrastructureError, match="unreachable"):
            await kube.version()


def _external_kubeconfig(tmp_path: Path, plane: ControlPlane) -> Path:
    pki = plane.pki
    assert pki is not None
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kind-test",
        "clusters": [
            {
                "name": "kind-test",
                "cluster": {"server": plane.server, "certificate-authority-data": b64(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": "kind-test", "context": {"cluster": "kind-test", "user": "admin"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_external_kubeconfig_with_inline_credentials(
    tmp_path: Path, control_plane: ControlPlane
) -> None:
    conn = load_kubeconfig(_external_kubeconfig(tmp_path, control_plane))
    assert not conn.managed and conn.context == "kind-test"
    async with KubeClient(conn) as kube:
        assert (await kube.version())["gitVersion"] == "v1.37.2"


def test_writes_to_external_cluster_need_opt_in(
    tmp_path: Path, control_plane: ControlPlane
) -> None:
    path = _external_kubeconfig(tmp_path, control_plane)
    with pytest.raises(UserError, match="--allow-external-writes"), cluster_connection(path):
        pass
    with cluster_connection(path, allow_external_writes=True) as conn:
        assert conn.server == control_plane.server
    require_write_permission(control_plane.connection, allow_external_writes=False)


def test_bad_kubeconfigs_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_kubeconfig(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.write_text("clusters: [unclosed")
    with pytest.raises(UserError, match="not valid YAML"):
        load_kubeconfig(broken)
    nocontext = tmp_path / "nocontext"
    nocontext.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(UserError, match="current-context"):
        load_kubeconfig(nocontext)


async def test_unknown_field_on_existing_object_is_a_verdict(kube: KubeClient) -> None:
    """The update path (server-side apply) reports schema errors as HTTP 500; that is the
    server rejecting the object, not an infrastructure failure."""
    doc = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "default"},
        "automountServiceAccountTokens": False,
    }
    resp = await kube.apply(doc, dry_run=True)
    assert not resp.ok
    assert "automountServiceAccountTokens" in resp.message


async def test_a_body_json_cannot_carry_is_the_objects_failure(kube: KubeClient) -> None:
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "x": deep}
    resp = await kube.create(cm, namespace="default", dry_run=True)
    assert resp.status_code == 422 and "cannot be sent as JSON: nests too deeply" in resp.message
    huge = {**cm, "x": int("1" * 4000) ** 2}  # 8,000 digits: str() refuses it
    resp = await kube.create(huge, namespace="default", dry_run=True)
    assert resp.status_code == 422 and "cannot be sent as JSON" in resp.message


async def test_etcd_request_too_large_is_a_verdict_not_an_outage(kube: KubeClient) -> None:
    """Dry-run accepts it; the real create gets etcd's HTTP 500. That is the object's
    size, the model's doing: an answer, never an InfrastructureError."""
    big = "a" * 250_000
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "gk-too-large"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"],
                   "resourceNames": [big]} for _ in range(8)],
    }  # fmt: skip
    assert (await kube.create(role, dry_run=True)).ok
    resp = await kube.create(role)
    assert resp.status_code == 500 and "request is too large" in resp.message
    assert await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "gk-too-large") is None
