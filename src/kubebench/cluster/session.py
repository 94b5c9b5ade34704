"""One way for every command to get a cluster: external, already running, or started now."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from kubebench.cluster.controlplane import ControlPlane
from kubebench.cluster.kubeconfig import Connection, load_kubeconfig
from kubebench.cluster.state import read_state
from kubebench.errors import UserError


def require_write_permission(conn: Connection, allow_external_writes: bool) -> None:
    """Refuse to write model-written YAML into a cluster KubeBench did not start."""
    if conn.managed or allow_external_writes:
        return
    raise UserError(
        f"refusing to write model-generated objects into cluster {conn.server} "
        f"(context {conn.context!r}), which kubebench did not start: answers may create "
        "RBAC bindings, secrets and namespaces there",
        hint="use a throwaway cluster and pass --allow-external-writes to accept this",
    )


def running_connection() -> Connection | None:
    """The detached control plane's connection, if one is running."""
    state = read_state()
    if state is None or not state.alive():
        return None
    return replace(load_kubeconfig(Path(state.kubeconfig)), managed=True)


@contextmanager
def cluster_connection(
    kubeconfig: Path | None = None,
    context: str | None = None,
    *,
    allow_external_writes: bool = False,
) -> Iterator[Connection]:
    """Yield a writable connection: `--kubeconfig` (with opt-in), a detached control plane
    from `kubebench cluster up --detach`, or a fresh embedded one stopped on exit."""
    if kubeconfig is not None or context is not None:
        conn = load_kubeconfig(kubeconfig, context)
        require_write_permission(conn, allow_external_writes)
        yield conn  # inline key material stays in memory: nothing to clean up
        return
    if (running := running_connection()) is not None:
        yield running
        return
    with ControlPlane() as plane:
        yield plane.connection
