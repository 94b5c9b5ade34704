"""The grader Lease: a second process waits for the first, is refused after its wait
with a line naming the holder, and takes a killed holder's Lease over at once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.errors import UserError
from kubebench.grading.grader_lease import LEASE_NAME, LEASE_NAMESPACE, GraderLease
from kubebench.grading.pipeline import settle_cleanups

# Another KubeBench process: holds the Lease until its stdin closes, then gives it back.
HOLDER = """
import asyncio, sys
from pathlib import Path
from kubebench.cluster.client import KubeClient
from kubebench.cluster.kubeconfig import load_kubeconfig
from kubebench.grading.grader_lease import GraderLease

async def main():
    async with KubeClient(load_kubeconfig(Path(sys.argv[1]))) as kube:
        lease = GraderLease()
        async def nothing():
            pass
        await lease.enter(kube, nothing)
        print("held", flush=True)
        await asyncio.to_thread(sys.stdin.read)
        await lease.exit(kube)
        print("released", flush=True)

asyncio.run(main())
"""


@pytest.fixture
async def holder(
    control_plane: ControlPlane, kube: KubeClient
) -> AsyncIterator[subprocess.Popen[str]]:
    await settle_cleanups(kube)  # this process's Lease is given back once it is idle
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(control_plane.kubeconfig_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


class Takeovers:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


async def _holder_identity(kube: KubeClient) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{LEASE_NAME}"
    resp = await kube.request("GET", path)
    return str(((resp.body or {}).get("spec") or {}).get("holderIdentity") or "")


async def test_a_second_grader_waits_then_is_refused_in_one_line(
    kube: KubeClient, holder: subprocess.Popen[str]
) -> None:
    impatient = GraderLease(wait_s=1.0)
    started = time.monotonic()
    with pytest.raises(UserError) as info:
        await impatient.enter(kube, Takeovers())
    assert time.monotonic() - started >= 1.0
    line = info.value.one_line()
    assert f"another KubeBench process (pid {holder.pid} on " in line and "\n" not in line
    assert impatient.users == 0

    patient, takeovers = GraderLease(wait_s=60), Takeovers()
    entering = asyncio.ensure_future(patient.enter(kube, takeovers))
    await asyncio.sleep(1.0)
    assert not entering.done()  # still held by the other process
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.close()
    await asyncio.wait_for(entering, 30)
    assert takeovers.count == 1  # another process held it: what was known is dropped
    assert holder.stdout.readline().strip() == "released"
    assert (await _holder_identity(kube)).endswith(patient.holder.token)
    await patient.exit(kube)
    assert await _holder_identity(kube) == ""


async def test_a_killed_holders_lease_is_taken_over_at_once(
    kube: KubeClient, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lease, takeovers = GraderLease(wait_s=60), Takeovers()
    started = time.monotonic()
    await lease.enter(kube, takeovers)
    # Not after the Lease's 20 s: its holder ran on this host and is gone.
    assert time.monotonic() - started < 5 and takeovers.count == 1
    await lease.exit(kube)


async def test_the_same_process_keeps_what_it_knew_when_nobody_came_between(
    kube: KubeClient,
) -> None:
    await settle_cleanups(kube)
    lease, takeovers = GraderLease(), Takeovers()
    await lease.enter(kube, takeovers)
    await lease.exit(kube)
    first = takeovers.count
    await lease.enter(kube, takeovers)
    await lease.exit(kube)
    assert takeovers.count == first  # released and retaken untouched: no sweep
