"""Kubeconfig files: written for the local control plane, read for external clusters."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubebench.errors import UserError
from kubebench.settings import settings


@dataclass(frozen=True)
class Connection:
    """How to reach one API server: address and credentials, as files, inline data (a
    kubeconfig's `*-data` fields, kept in memory only) or a token.

    `managed` is True only for a control plane KubeBench started itself; grading writes
    into any other cluster only when the user opts in.
    """

    server: str
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    token: str | None = field(default=None, repr=False)
    insecure: bool = False
    managed: bool = False
    context: str = "kubebench"
    kubeconfig: Path | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    cert_data: bytes | None = field(default=None, repr=False)
    key_data: bytes | None = field(default=None, repr=False)

    @property
    def has_client_cert(self) -> bool:
        return bool(self.cert_file or self.cert_data) and bool(self.key_file or self.key_data)


def _pem(path: Path | None, data: bytes | None) -> bytes | None:
    if data is not None:
        return data
    return path.read_bytes() if path is not None else None


def load_client_cert(ctx: ssl.SSLContext, conn: Connection) -> None:
    """Load the connection's client certificate and key into `ctx`.

    `ssl` reads a key only from a path: inline key material goes through an anonymous
    memory file (memfd, never on disk) or, where there is none, a private temporary file
    removed at once.
    """
    if conn.cert_data is None and conn.key_data is None:
        ctx.load_cert_chain(str(conn.cert_file), str(conn.key_file))
        return
    cert, key = _pem(conn.cert_file, conn.cert_data), _pem(conn.key_file, conn.key_data)
    assert cert is not None and key is not None
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("kubebench-client-cert", os.MFD_CLOEXEC)
        try:
            os.write(fd, cert + b"\n" + key)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    folder = tempfile.mkdtemp(prefix="kubebench-")  # 0700
    try:
        path = Path(folder) / "client.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(cert + b"\n" + key)
        ctx.load_cert_chain(str(path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_kubeconfig(path: Path, conn: Connection, *, user: str = "kubebench-admin") -> Path:
    """Write a kubeconfig that kubectl and client libraries understand."""
    cluster: dict[str, object] = {"server": conn.server}
    if conn.ca_file:
        cluster["certificate-authority"] = str(conn.ca_file)
    user_entry: dict[str, object] = {}
    if conn.cert_file and conn.key_file:
        user_entry = {
            "client-certificate": str(conn.cert_file),
            "client-key": str(conn.key_file),
        }
    elif conn.token:
        user_entry = {"token": conn.token}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": conn.context, "cluster": cluster}],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": conn.context, "context": {"cluster": conn.context, "user": user}}],
        "current-context": conn.context,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def _decode(data_b64: str, what: str, path: Path) -> bytes:
    try:
        return base64.b64decode(data_b64, validate=True)
    except (ValueError, TypeError):
        raise UserError(f"kubeconfig {path}: {what} is not valid base64") from None


def load_kubeconfig(path: Path | None = None, context: str | None = None) -> Connection:
    """Read a kubeconfig (default: $KUBECONFIG's first path, or ~/.kube/config) into a Connection.

    Supports what kind, minikube and most cloud kubeconfigs use after `get-credentials`:
    certificate files or inline data (kept in memory, never written out), and static
    tokens. Exec plugins are not run.
    """
    if path is None:
        env = (settings().kubeconfig or "").split(os.pathsep)[0]
        path = Path(env) if env else Path.home() / ".kube" / "config"
    if not path.is_file():
        raise UserError(f"kubeconfig {path} does not exist", hint="pass --kubeconfig PATH")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"kubeconfig {path} is not valid YAML: {exc}".splitlines()[0]) from exc
    name = context or doc.get("current-context")
    if not name:
        raise UserError(f"kubeconfig {path} has no current-context", hint="pass --context NAME")

    def pick(section: str, key: str) -> dict:
        for entry in doc.get(section) or []:
            if entry.get("name") == key:
                return entry.get(section[:-1]) or {}
        raise UserError(f"kubeconfig {path} has no {section[:-1]} named {key!r}")

    ctx = pick("contexts", name)
    cluster = pick("clusters", ctx.get("cluster", ""))
    user = pick("users", ctx.get("user", "")) if ctx.get("user") else {}
    base = path.parent

    def file_of(file_key: str, entry: dict) -> Path | None:
        if entry.get(file_key) and not entry.get(f"{file_key}-data"):
            p = Path(entry[file_key])
            return p if p.is_absolute() else base / p
        return None

    def data_of(file_key: str, entry: dict) -> bytes | None:
        raw = entry.get(f"{file_key}-data")
        return _decode(raw, f"{file_key}-data", path) if raw else None

    if "exec" in user or "auth-provider" in user:
        raise UserError(
            f"context {name!r} authenticates through an exec plugin, which kubebench does not run",
            hint="use a context with a client certificate or a token",
        )
    return Connection(
        server=cluster.get("server", ""),
        ca_file=file_of("certificate-authority", cluster),
        cert_file=file_of("client-certificate", user),
        key_file=file_of("client-key", user),
        ca_data=data_of("certificate-authority", cluster),
        cert_data=data_of("client-certificate", user),
        key_data=data_of("client-key", user),
        token=user.get("token"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        managed=False,
        context=name,
        kubeconfig=path,
    )
