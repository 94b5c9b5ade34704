"""A local control plane: etcd, kube-apiserver and kube-controller-manager as children.

Modelled on controller-runtime's envtest: a few process objects, free ports, a private
folder for data and certificates (see `workdirs`), readiness polled with deadlines, and a
stop that always runs. Nothing listens beyond 127.0.0.1, the API server refuses
anonymous requests, and etcd accepts only the API server's client certificate.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

from kubebench import defaults
from kubebench.cluster.binaries import BinarySet, resolve_binaries
from kubebench.cluster.client import ssl_context
from kubebench.cluster.kubeconfig import Connection, write_kubeconfig
from kubebench.cluster.pki import PkiPaths, write_pki
from kubebench.cluster.processes import ManagedProcess
from kubebench.cluster.workdirs import new_workdir
from kubebench.errors import InfrastructureError, KubeBenchError, UserError
from kubebench.settings import settings


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((defaults.BIND_ADDRESS, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(port: int) -> None:
    """Raise a one-line UserError when `port` on the loopback address is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((defaults.BIND_ADDRESS, port))
        except OSError as exc:
            raise UserError(
                f"port {port} on {defaults.BIND_ADDRESS} is already in use",
                hint="pick another --port, or leave it out to use a free one",
            ) from exc


class ControlPlane:
    """Start with `start()` or `with ControlPlane() as cp:`; `stop()` is idempotent."""

    def __init__(
        self,
        binaries: BinarySet | None = None,
        *,
        port: int | None = None,
        root_dir: Path | None = None,
        controller_manager: bool = True,
        ready_timeout_s: float = defaults.READY_TIMEOUT_S,
    ) -> None:
        self.binaries = binaries
        self.requested_port = port
        self.controller_manager = controller_manager
        self.ready_timeout_s = ready_timeout_s
        self._root_parent = root_dir
        self.root: Path | None = None
        self.pki: PkiPaths | None = None
        self.port = 0
        self.etcd_url = ""
        self.processes: list[ManagedProcess] = []
        self.kubeconfig_path: Path | None = None
        self.startup_seconds: float | None = None

    # -- public API -------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://{defaults.BIND_ADDRESS}:{self.port}"

    @property
    def connection(self) -> Connection:
        if self.pki is None:
            raise RuntimeError("control plane not started")
        return Connection(
            server=self.server,
            ca_file=self.pki.ca_cert,
            cert_file=self.pki.admin_cert,
            key_file=self.pki.admin_key,
            managed=True,
            kubeconfig=self.kubeconfig_path,
        )

    @property
    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self.processes if p.pid is not None}

    def start(self) -> ControlPlane:
        """Start all processes and return once the API server is ready to serve."""
        t0 = time.monotonic()
        self.binaries = self.binaries or resolve_binaries()
        if self.requested_port is not None:
            ensure_port_free(self.requested_port)
        attempts = 1 if self.requested_port is not None else 3
        for attempt in range(attempts):
            try:
                self._start_once()
                break
            except UserError as exc:
                self._stop_keeping_logs(exc)
                # A free port can be taken between probing and binding: retry on new ones.
                if "already in use" not in exc.message or attempt == attempts - 1:
                    raise
            except KubeBenchError as exc:
                self._stop_keeping_logs(exc)
                raise
            except BaseException:
                self.stop()
                raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop every child (controller manager first) and remove the temporary folder."""
        for proc in reversed(self.processes):
            proc.stop()
        self.processes = []
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def supervise(self, interval_s: float = 1.0) -> None:
        """Block while every child runs; raise as soon as one of them has exited."""
        while True:
            for proc in self.processes:
                proc.raise_if_exited()
            time.sleep(interval_s)

    def _stop_keeping_logs(self, exc: KubeBenchError) -> None:
        """Stop, but first move the logs somewhere that outlives the temporary folder,
        and point the error's hint there."""
        if self.root is not None and (self.root / "logs").is_dir():
            for proc in self.processes:
                proc.stop()
            kept = settings().state_dir / "last-failed-start"
            shutil.rmtree(kept, ignore_errors=True)
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.root / "logs", kept)
            exc.hint = f"logs in {kept}"
        self.stop()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- start-up ---------------------------------------------------------------------

    def _start_once(self) -> None:
        assert self.binaries is not None
        self.root = new_workdir(self._root_parent)
        (self.root / "logs").mkdir()
        self.pki = write_pki(self.root / "pki")
        self.port = self.requested_port or free_port()
        etcd_client, etcd_peer, kcm_port = free_port(), free_port(), free_port()
        self.etcd_url = f"https://{defaults.BIND_ADDRESS}:{etcd_client}"
        self.kubeconfig_path = write_kubeconfig(self.root / "kubeconfig", self.connection)

        self.processes = [self._etcd(etcd_client, etcd_peer), self._apiserver(etcd_client)]
        if self.controller_manager:
            self.processes.append(self._controller_manager(kcm_port))
        # All three start at once: the API server and controller manager retry their
        # connections, which is faster than waiting on each in turn.
        for proc in self.processes:
            proc.start()
        self._wait_ready(kcm_port)

    def _log(self, name: str) -> Path:
        assert self.root is not None
        return self.root / "logs" / f"{name}.log"

    def _etcd(self, client_port: int, peer_port: int) -> ManagedProcess:
        assert self.binaries is not None and self.root is not None
        assert self.pki is not None
        pki = self.pki
        # TLS with client certificates on both listeners: only the API server (client)
        # and etcd itself (peer) hold a certificate etcd's own CA signed.
        client = f"https://{defaults.BIND_ADDRESS}:{client_port}"
        peer = f"https://{defaults.BIND_ADDRESS}:{peer_port}"
        return ManagedProcess(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=default",
                f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                f"--cert-file={pki.etcd_server_cert}",
                f"--key-file={pki.etcd_server_key}",
                f"--trusted-ca-file={pki.etcd_ca_cert}",
                "--client-cert-auth=true",
                f"--peer-cert-file={pki.etcd_server_cert}",
                f"--peer-key-file={pki.etcd_server_key}",
                f"--peer-trusted-ca-file={pki.etcd_ca_cert}",
                "--peer-client-cert-auth=true",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            self._log("etcd"),
        )

    def _apiserver(self, etcd_port: int) -> ManagedProcess:
        assert self.binaries is not None and self.pki is not None and self.root is not None
        pki = self.pki
        return ManagedProcess(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers=https://{defaults.BIND_ADDRESS}:{etcd_port}",
                f"--etcd-cafile={pki.etcd_ca_cert}",
                f"--etcd-certfile={pki.etcd_client_cert}",
                f"--etcd-keyfile={pki.etcd_client_key}",
                f"--secure-port={self.port}",
                f"--bind-address={defaults.BIND_ADDRESS}",
                f"--advertise-address={defaults.BIND_ADDRESS}",
                f"--cert-dir={self.root / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                # Every request must authenticate (the readiness probes use the admin
                # certificate): no anonymous user an answer's binding could empower.
                "--anonymous-auth=false",
                f"--service-cluster-ip-range={defaults.SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={defaults.SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki.sa_public_key}",
                f"--service-account-signing-key-file={pki.sa_private_key}",
                # A benchmark harness is the only client: no server-side throttling.
                "--enable-priority-and-fairness=false",
                "--max-requests-inflight=0",
                "--max-mutating-requests-inflight=0",
                "--endpoint-reconciler-type=none",
                "--profiling=false",
            ],
            self._log("kube-apiserver"),
        )

    def _controller_manager(self, port: int) -> ManagedProcess:
        assert self.binaries is not None and self.pki is not None and self.root is not None
        assert self.kubeconfig_path is not None
        return ManagedProcess(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={self.kubeconfig_path}",
                "--leader-elect=false",
                f"--controllers={','.join(defaults.CONTROLLERS)}",
                f"--service-account-private-key-file={self.pki.sa_private_key}",
                f"--root-ca-file={self.pki.ca_cert}",
                f"--secure-port={port}",
                f"--bind-address={defaults.BIND_ADDRESS}",
                f"--cert-dir={self.root / 'kcm-certs'}",
                "--kube-api-qps=1000",
                "--kube-api-burst=2000",
                "--concurrent-namespace-syncs=20",
            ],
            self._log("kube-controller-manager"),
        )

    def _wait_ready(self, kcm_port: int) -> None:
        assert self.pki is not None
        deadline = time.monotonic() + self.ready_timeout_s
        # No keep-alive: a TLS connection made before the server has loaded its client CA
        # stays anonymous for its whole life, so each poll shakes hands afresh.
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(verify=ssl_context(self.connection), timeout=2.0, limits=no_reuse) as api:
            self._poll(
                deadline, "kube-apiserver /readyz", lambda: _ok(api, f"{self.server}/readyz")
            )
            self._poll(
                deadline,
                "the default namespace",
                lambda: _ok(api, f"{self.server}/api/v1/namespaces/default"),
            )
        if self.controller_manager:
            with httpx.Client(verify=False, timeout=2.0) as kcm:
                url = f"https://{defaults.BIND_ADDRESS}:{kcm_port}/healthz"
                self._poll(deadline, "kube-controller-manager /healthz", lambda: _ok(kcm, url))

    def _poll(self, deadline: float, what: str, check: Callable[[], bool]) -> None:
        while True:
            for proc in self.processes:
                proc.raise_if_exited()
            if check():
                return
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"timed out after {self.ready_timeout_s:.0f}s waiting for {what}",
                    hint=f"logs in {self.root / 'logs' if self.root else '?'}",
                )
            time.sleep(defaults.POLL_INTERVAL_S)


def _ok(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


__all__ = ["ControlPlane", "ensure_port_free", "free_port"]
