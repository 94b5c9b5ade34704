"""Kubeconfig files: written for the local control plane, read for external clusters."""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubebench.errors import UserError


@dataclass(frozen=True)
class Connection:
    """How to reach one API server: address and credentials, all as files or a token.

    `managed` is True only for a control plane KubeBench started itself; grading writes
    into any other cluster only when the user opts in.
    """

    server: str
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    token: str | None = None
    insecure: bool = False
    managed: bool = False
    context: str = "kubebench"
    kubeconfig: Path | None = None
    _temp_files: list[Path] = field(default_factory=list, repr=False, compare=False)


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


def _materialize(data_b64: str, suffix: str, temp: list[Path]) -> Path:
    fd, name = tempfile.mkstemp(prefix="kubebench-", suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64decode(data_b64))
    temp.append(Path(name))
    return Path(name)


def load_kubeconfig(path: Path | None = None, context: str | None = None) -> Connection:
    """Read a kubeconfig (default: $KUBECONFIG or ~/.kube/config) into a Connection.

    Supports what kind, minikube and most cloud kubeconfigs use after `get-credentials`:
    certificate files or inline data, and static tokens. Exec plugins are not run.
    """
    if path is None:
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
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
    temp: list[Path] = []

    def file_or_data(file_key: str, data_key: str, entry: dict, suffix: str) -> Path | None:
        if entry.get(data_key):
            return _materialize(entry[data_key], suffix, temp)
        if entry.get(file_key):
            p = Path(entry[file_key])
            return p if p.is_absolute() else base / p
        return None

    if "exec" in user or "auth-provider" in user:
        raise UserError(
            f"context {name!r} authenticates through an exec plugin, which kubebench does not run",
            hint="use a context with a client certificate or a token",
        )
    return Connection(
        server=cluster.get("server", ""),
        ca_file=file_or_data(
            "certificate-authority", "certificate-authority-data", cluster, ".crt"
        ),
        cert_file=file_or_data("client-certificate", "client-certificate-data", user, ".crt"),
        key_file=file_or_data("client-key", "client-key-data", user, ".key"),
        token=user.get("token"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        managed=False,
        context=name,
        kubeconfig=path,
        _temp_files=temp,
    )
