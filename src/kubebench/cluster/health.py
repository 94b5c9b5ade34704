"""Is the API server (and the etcd behind it) still serving? One quick probe.

`/readyz` answers within a couple of seconds whatever state the cluster is in: 200 when
ready, 500 naming the failed checks (`[-]etcd failed`) when etcd is gone, and nothing at
all when kube-apiserver itself is gone. The runner's circuit breaker calls it; so can
anything else that must tell a dead cluster from a slow request.
"""

from __future__ import annotations

import asyncio
import re

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.errors import InfrastructureError

_FAILED_CHECK = re.compile(r"\[-\]([\w./-]+) failed")


async def probe_api_server(
    kube: KubeClient, *, timeout_s: float = defaults.HEALTH_PROBE_TIMEOUT_S
) -> str | None:
    """None when the API server at `kube` reports itself ready; otherwise why not, as
    one line (unreachable, timed out, or the readiness checks that failed)."""
    try:
        async with asyncio.timeout(timeout_s):
            response = await kube.request("GET", "/readyz")
    except TimeoutError:
        return f"API server {kube.conn.server} did not answer /readyz within {timeout_s:g}s"
    except InfrastructureError as exc:
        failed = _FAILED_CHECK.findall(exc.message)
        if failed:
            return f"API server {kube.conn.server} is not ready: {', '.join(failed)} failed"
        return exc.message.split("\n", 1)[0]
    if response.status_code in (401, 403):
        return None  # this user may not read /readyz: no verdict, never a false alarm
    if not response.ok:
        return f"API server {kube.conn.server} /readyz answered HTTP {response.status_code}"
    return None


__all__ = ["probe_api_server"]
