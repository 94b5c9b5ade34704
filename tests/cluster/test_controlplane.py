"""The embedded control plane behaves like a real cluster, because it is one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.cluster.processes import pid_alive
from kubebench.cluster.workdirs import new_workdir


async def _eventually(check, timeout_s: float = 30.0, interval_s: float = 0.1):
    """Poll an async check until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval_s)


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


async def test_server_reports_pinned_version(kube: KubeClient) -> None:
    version = await kube.version()
    assert version["gitVersion"] == "v1.37.2"


async def test_object_is_created_and_read_back(kube: KubeClient) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "readback", "namespace": "default"},
        "data": {"greeting": "hello"},
    }
    resp = await kube.apply(cm)
    assert resp.ok, resp.message
    got = await kube.get("v1", "ConfigMap", "readback", "default")
    assert got is not None and got["data"] == {"greeting": "hello"}
    await kube.delete("v1", "ConfigMap", "readback", "default")
    assert await kube.get("v1", "ConfigMap", "readback", "default") is None


async def test_dry_run_rejects_bad_name_with_server_message(kube: KubeClient) -> None:
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_DNS"}}
    resp = await kube.apply(bad, namespace="default", dry_run=True)
    assert resp.status_code == 422
    assert "RFC 1123" in resp.message and "Not_DNS" in resp.message
    assert await kube.get("v1", "ConfigMap", "Not_DNS", "default") is None


async def test_dry_run_rejects_unknown_field_strictly(kube: KubeClient) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "strict", "namespace": "default"},
        "datta": {"a": "b"},
    }
    resp = await kube.apply(doc, dry_run=True)
    assert resp.status_code == 400
    assert 'unknown field "datta"' in resp.message
    # Dry-run wrote nothing.
    assert await kube.get("v1", "ConfigMap", "strict", "default") is None


async def test_dry_run_of_unknown_kind_says_so(kube: KubeClient) -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    resp = await kube.apply(doc, dry_run=True)
    assert not resp.ok
    assert 'no matches for kind "Widget"' in resp.message


async def test_subject_access_review_follows_rbac(kube: KubeClient) -> None:
    ns = "sar-check"
    assert (await kube.apply(_namespace(ns))).ok
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "read-pods", "namespace": ns},
        "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}],
        "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"},
    }
    assert (await kube.apply(role)).ok and (await kube.apply(binding)).ok

    async def review(verb: str, resource: str = "pods", namespace: str = ns) -> bool:
        result = await kube.access_review(
            user="jane",
            groups=["system:authenticated"],
            verb=verb,
            resource=resource,
            namespace=namespace,
        )
        return result.allowed

    assert await _eventually(lambda: review("list"))
    assert await review("get")
    assert not await review("delete")
    assert not await review("get", resource="secrets")
    assert not await review("get", namespace="default")
    await kube.delete("v1", "Namespace", ns)


async def test_aggregated_cluster_role_receives_rules(kube: KubeClient) -> None:
    label = {"kubebench.test/aggregate-to-monitoring": "true"}
    aggregate = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "kb-monitoring"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]},
        "rules": [],
    }
    part = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "kb-monitoring-endpoints", "labels": label},
        "rules": [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]}],
    }
    assert (await kube.apply(aggregate)).ok and (await kube.apply(part)).ok

    async def rules() -> list:
        obj = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "kb-monitoring")
        return (obj or {}).get("rules") or []

    got = await _eventually(rules)
    assert got == [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]}]
    for name in ("kb-monitoring", "kb-monitoring-endpoints"):
        await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRole", name)


async def test_new_namespace_gets_no_controller_made_objects(kube: KubeClient) -> None:
    """No `default` ServiceAccount or `kube-root-ca.crt` (no task reads them): an
    attempt's namespace holds only what the attempt wrote, so its teardown empties only
    those kinds. A ServiceAccount named `default` can still be written."""
    assert (await kube.apply(_namespace("sa-default"))).ok
    await asyncio.sleep(2)  # the controllers, if they ran, would have acted by now
    assert await kube.list("v1", "ServiceAccount", "sa-default") == []
    assert await kube.list("v1", "ConfigMap", "sa-default") == []
    sa = {"apiVersion": "v1", "kind": "ServiceAccount",
          "metadata": {"name": "default", "namespace": "sa-default"}}  # fmt: skip
    assert (await kube.apply(sa)).ok
    await kube.delete("v1", "Namespace", "sa-default")


async def test_deleted_namespace_disappears(kube: KubeClient) -> None:
    ns = "to-be-deleted"
    assert (await kube.apply(_namespace(ns))).ok
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}}
    assert (await kube.apply(cm)).ok
    assert (await kube.delete("v1", "Namespace", ns)).ok

    async def gone() -> bool:
        return await kube.get("v1", "Namespace", ns) is None

    assert await _eventually(gone, timeout_s=60)


def test_stop_ends_every_child_and_removes_files() -> None:
    plane = ControlPlane().start()
    pids, root = dict(plane.pids), plane.root
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
    assert all(pid_alive(pid) for pid in pids.values())
    plane.stop()
    assert not [name for name, pid in pids.items() if pid_alive(pid)]
    assert root is not None and not root.exists()


def test_children_die_when_parent_is_killed_hard(tmp_path) -> None:
    """SIGKILL leaves no chance to clean up: the parent-death signal must do it."""
    script = textwrap.dedent(
        """
        import json, sys, time
        from kubebench.cluster.controlplane import ControlPlane
        plane = ControlPlane().start()
        print(json.dumps(plane.pids), flush=True)
        print(plane.root, flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pids = json.loads(proc.stdout.readline())
    root = Path(proc.stdout.readline().strip())
    assert (root / "pki" / "ca.key").exists()
    assert all(pid_alive(pid) for pid in pids.values())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids.values()):
        time.sleep(0.1)
    assert not [name for name, pid in pids.items() if pid_alive(pid)]
    # Its folder (CA key, admin key, etcd data) outlives it, until the next start.
    assert root.exists()
    fresh = new_workdir()
    try:
        assert not root.exists() and fresh.parent == root.parent
    finally:
        shutil.rmtree(fresh)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_children_stop_on_signal_to_foreground_cli(signum: int, tmp_path) -> None:
    env = {**os.environ, "KUBEBENCH_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubebench.cli.main", "cluster", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "press Ctrl-C" in line:
            break
    text = "".join(lines)
    assert "ready" in text, text
    kubeconfig = next(ln.split("=", 1)[1].strip() for ln in lines if "KUBECONFIG=" in ln)
    root = os.path.dirname(kubeconfig)
    children = _children_of(proc.pid)
    assert len(children) == 3
    proc.send_signal(signum)
    proc.wait(timeout=30)
    assert not [pid for pid in children if pid_alive(pid)]
    assert not os.path.exists(root)


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry))
    return out
