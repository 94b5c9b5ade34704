"""`kubebench bench cluster`: start-up time, memory and API round-trip latency."""

from __future__ import annotations

import asyncio
import statistics
import time
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


async def _measure_httpx(conn: Connection, requests: int) -> list[LatencyStats]:
    async with KubeClient(conn) as kube:
        await kube.discover()
        await kube.create(_configmap(-1), dry_run=True)  # warm the connection
        dry: list[float] = []
        for i in range(requests):
            t0 = time.perf_counter()
            resp = await kube.create(_configmap(i), dry_run=True)
            dry.append((time.perf_counter() - t0) * 1000)
            assert resp.ok, resp.message
        sar: list[float] = []
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
    return [
        LatencyStats("dry-run create (httpx, async)", dry),
        LatencyStats("SubjectAccessReview (httpx, async)", sar),
    ]


def _measure_official_client(conn: Connection, requests: int) -> LatencyStats:
    """The same dry-run create through the official `kubernetes` client, raw dicts."""
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
        resp = api.call_api(
            path,
            "POST",
            query_params=query,
            body=_configmap(i),
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            _preload_content=False,
        )
        # call_api returns the urllib3 response (first item of a tuple on some versions).
        raw = resp[0] if isinstance(resp, tuple) else resp
        assert raw.status == 201, raw.data

    call(-1)
    samples = []
    for i in range(requests):
        t0 = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - t0) * 1000)
    api.close()
    return LatencyStats("dry-run create (kubernetes client, sync)", samples)


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
                result.latencies = asyncio.run(_measure_httpx(conn, requests))
                if compare_clients:
                    result.latencies.append(_measure_official_client(conn, requests))
                result.peak_rss_mib = {
                    p.name: peak_rss_mib(p.pid) for p in plane.processes if p.pid is not None
                }
        finally:
            plane.stop()
    return result
