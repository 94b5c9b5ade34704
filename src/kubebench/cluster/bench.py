"""`kubebench bench cluster`: start-up time, memory and API round-trip latency."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.cluster.kubeconfig import Connection


@dataclass
class LatencyStats:
    """Round-trip latencies of one kind of request, in milliseconds."""

    name: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class ClusterBench:
    """Everything `bench cluster` measures in one run."""

    startup_s: list[float] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    latencies: list[LatencyStats] = field(default_factory=list)


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _configmap(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"bench-{i}", "namespace": "default"},
        "data": {"key": "value"},
    }


def _official_client_call(conn: Connection) -> Callable[[int], None]:
    """A dry-run create through the official `kubernetes` client's raw path, no typed models."""
    from kubernetes import client as k8s  # optional dependency, imported lazily

    cfg = k8s.Configuration()
    cfg.host = conn.server
    cfg.ssl_ca_cert = str(conn.ca_file)
    cfg.cert_file = str(conn.cert_file)
    cfg.key_file = str(conn.key_file)
    api = k8s.ApiClient(cfg)
    path = "/api/v1/namespaces/default/configmaps"
    query = [("dryRun", "All"), ("fieldValidation", "Strict"), ("fieldManager", "kubebench")]

    def call(i: int) -> None:
        method, url, headers, body, post = api.param_serialize(
            "POST",
            path,
            query_params=query,
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=_configmap(i),
        )
        resp = api.call_api(method, url, header_params=headers, body=body, post_params=post)
        resp.read()
        assert resp.status == 201, resp.data

    return call


async def _measure(conn: Connection, requests: int, compare_clients: bool) -> list[LatencyStats]:
    """Time each request kind; with `compare_clients`, alternate the two clients request by
    request so that whatever else loads the machine hits both alike."""
    official = _official_client_call(conn) if compare_clients else None
    dry, sar, dry_official = [], [], []
    async with KubeClient(conn) as kube:
        await kube.discover()
        await kube.create(_configmap(-1), dry_run=True)  # warm the connection
        if official:
            official(-1)
        for i in range(requests):
            t0 = time.perf_counter()
            resp = await kube.create(_configmap(i), dry_run=True)
            dry.append((time.perf_counter() - t0) * 1000)
            assert resp.ok, resp.message
            if official:
                t0 = time.perf_counter()
                official(i)
                dry_official.append((time.perf_counter() - t0) * 1000)
        for i in range(requests):
            t0 = time.perf_counter()
            await kube.access_review(
                user=f"bench-{i}",
                groups=["system:authenticated"],
                verb="get",
                resource="configmaps",
                namespace="default",
            )
            sar.append((time.perf_counter() - t0) * 1000)
    stats = [
        LatencyStats("dry-run create (aiohttp, async)", dry),
        LatencyStats("SubjectAccessReview (aiohttp, async)", sar),
    ]
    if official:
        stats.append(LatencyStats("dry-run create (kubernetes client, sync)", dry_official))
    return stats


def run_cluster_bench(
    starts: int = 3, requests: int = 300, compare_clients: bool = True
) -> ClusterBench:
    """Cold-start the control plane `starts` times; measure latency on the last one."""
    result = ClusterBench()
    for i in range(starts):
        plane = ControlPlane().start()
        try:
            assert plane.startup_seconds is not None
            result.startup_s.append(plane.startup_seconds)
            if i == starts - 1:
                conn = plane.connection
                result.latencies = asyncio.run(_measure(conn, requests, compare_clients))
                result.peak_rss_mib = {
                    p.name: peak_rss_mib(p.pid) for p in plane.processes if p.pid is not None
                }
        finally:
            plane.stop()
    return result
