"""Shared fixtures: one real control plane for the whole test session."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.cluster.kubeconfig import Connection
from kubebench.cluster.processes import pid_alive


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background of a non-interactive shell (`cmd &`) inherits
    # SIGINT ignored, and so would every CLI it spawns: the Ctrl-C tests would then test
    # nothing but that. Python's own handler is reset to the default across exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver + kube-controller-manager, started once per session."""
    with ControlPlane() as plane:
        pids = dict(plane.pids)
        yield plane
    survivors = [name for name, pid in pids.items() if pid_alive(pid)]
    assert not survivors, f"control-plane processes outlived the session: {survivors}"


@pytest.fixture(scope="session")
def connection(control_plane: ControlPlane) -> Connection:
    return control_plane.connection


@pytest.fixture
async def kube(connection: Connection) -> AsyncIterator[KubeClient]:
    """An async API client (admin, system:masters) for one test. Background cleanups
    the test left finish before the client closes (else they fail on a closed session,
    and a later test's `settle_cleanups` would report that)."""
    from kubebench.grading.pipeline import settle_cleanups

    async with KubeClient(connection) as client:
        yield client
        await settle_cleanups(client)
