"""What only KubeBench may reach: the API server refuses anonymous requests, etcd any
client but the API server; control-plane folders are private and never left behind;
inline key material never lands in a file."""

from __future__ import annotations

import base64
import os
import ssl
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import yaml

from kubebench.cluster import workdirs
from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.cluster.kubeconfig import load_kubeconfig


def test_api_server_refuses_unauthenticated_requests(control_plane: ControlPlane) -> None:
    assert control_plane.pki is not None
    url = f"{control_plane.server}/api/v1/namespaces/kube-system/secrets"
    careful = ssl.create_default_context(cafile=str(control_plane.pki.ca_cert))
    for verify in (False, careful):  # `curl -k` and a client that checks the server
        with httpx.Client(verify=verify, timeout=10) as anonymous:
            assert anonymous.get(url).status_code == 401
            assert anonymous.get(f"{control_plane.server}/readyz").status_code == 401
            created = anonymous.post(
                f"{control_plane.server}/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "anon"}},
            )
            assert created.status_code == 401


def test_etcd_refuses_every_client_but_the_api_server(control_plane: ControlPlane) -> None:
    pki = control_plane.pki
    assert pki is not None and control_plane.etcd_url.startswith("https://127.0.0.1:")
    url = control_plane.etcd_url
    plain = url.replace("https://", "http://")
    try:  # no plaintext listener: Go's TLS server answers plain HTTP with a 400
        refused = httpx.post(f"{plain}/v3/kv/range", json={"key": "Lw=="}, timeout=5)
        assert refused.status_code == 400, refused.text
    except httpx.HTTPError:
        pass
    with pytest.raises((httpx.HTTPError, ssl.SSLError)):  # TLS without a certificate
        httpx.post(f"{url}/v3/kv/range", json={"key": "Lw=="}, verify=False, timeout=5)
    admin = ssl.create_default_context(cafile=str(pki.etcd_ca_cert))
    admin.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    with pytest.raises((httpx.HTTPError, ssl.SSLError)):  # the cluster CA's admin
        httpx.post(f"{url}/v3/kv/range", json={"key": "Lw=="}, verify=admin, timeout=5)
    apiserver = ssl.create_default_context(cafile=str(pki.etcd_ca_cert))
    apiserver.load_cert_chain(str(pki.etcd_client_cert), str(pki.etcd_client_key))
    got = httpx.post(f"{url}/v3/kv/range", json={"key": "Lw=="}, verify=apiserver, timeout=5)
    assert got.status_code == 200  # the one certificate etcd accepts
    assert not (pki.etcd_ca_cert.with_suffix(".key")).exists()


def test_control_plane_folder_is_private_and_owned(control_plane: ControlPlane) -> None:
    assert control_plane.root is not None
    parent = control_plane.root.parent
    assert parent == Path(tempfile.gettempdir()) / f"kubebench-{os.getuid()}"
    for folder in (parent, control_plane.root):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    owner = (control_plane.root / workdirs.OWNER_FILE).read_text().split()
    assert int(owner[0]) == os.getpid()


def test_stale_control_plane_folders_are_removed_at_the_next_start(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    parent = workdirs.private_dir(tmp_path / "user")
    stale = parent / f"{workdirs.PREFIX}killed"
    (stale / "pki").mkdir(parents=True)
    (stale / "pki" / "ca.key").write_text("secret")
    (stale / workdirs.OWNER_FILE).write_text(f"{dead.pid} 12345\n")
    legacy = parent / f"{workdirs.PREFIX}legacy"  # an older version's: no owner file
    legacy.mkdir()
    os.utime(legacy, (0, 0))  # older than any start-up still in progress
    young = parent / f"{workdirs.PREFIX}starting"  # no owner file yet: being set up
    young.mkdir()
    mine = workdirs.new_workdir(parent)
    assert not stale.exists() and not legacy.exists() and young.exists()
    assert mine.exists()
    again = workdirs.new_workdir(parent)  # a live owner's folder is kept
    assert mine.exists() and again.exists()


def test_a_folder_someone_else_could_control_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "kubebench-link"
    link.symlink_to(target)
    from kubebench.errors import UserError

    with pytest.raises(UserError, match="not a folder of this user"):
        workdirs.private_dir(link)
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    workdirs.private_dir(loose)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


def _inline_kubeconfig(tmp_path: Path, plane: ControlPlane) -> Path:
    pki = plane.pki
    assert pki is not None

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "inline",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": plane.server, "certificate-authority-data": b64(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": "inline", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def _key_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("kubebench-")}


async def test_inline_client_keys_stay_in_memory(
    tmp_path: Path, control_plane: ControlPlane
) -> None:
    tmp = Path(tempfile.gettempdir())
    before = _key_files(tmp)
    conn = load_kubeconfig(_inline_kubeconfig(tmp_path, control_plane))
    assert conn.key_file is None and conn.key_data is not None
    async with KubeClient(conn) as kube:
        assert (await kube.version())["gitVersion"] == "v1.37.2"
    assert _key_files(tmp) - before == set()
    assert "PRIVATE" not in repr(conn)


def test_refused_cluster_and_status_leave_no_key_files(
    tmp_path: Path, control_plane: ControlPlane
) -> None:
    """`grade` refusing an external cluster and `cluster status --kubeconfig` used to
    leave kubebench-*.key files in the system temporary folder."""
    kubeconfig = _inline_kubeconfig(tmp_path, control_plane)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    answer = tmp_path / "a.yaml"
    answer.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    cmd = [sys.executable, "-m", "kubebench.cli.main"]
    status = subprocess.run(
        [*cmd, "cluster", "status", "--kubeconfig", str(kubeconfig)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    refused = subprocess.run(
        [*cmd, "grade", "--task", "namespace-basic-001", "--answer", str(answer),
         "--kubeconfig", str(kubeconfig)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "--allow-external-writes" in refused.stderr
    assert [p.name for p in private_tmp.iterdir()] == []
