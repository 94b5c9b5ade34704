"""One grader per control plane at a time, held through a Lease in the API server.

What makes grading fast is what one process knows about the cluster's names (listed
once, confirmed absent after its own deletes, locked in memory). That knowledge holds
only while no other KubeBench process writes there, so a process takes the Lease
`kube-system/kubebench-grader` before its first attempt and gives it back when its last
cleanup is done. A second process waits for it (every attempt's names then stay
consistent: it never sees another grader's objects), and gives up after
`GRADER_LEASE_WAIT_S` with a one-line error naming the holder.

The Lease is renewed while held. A holder counts as gone when it released the Lease,
when it ran on this host and its process is gone (a SIGKILLed `kubebench grade`), or when
its Lease has not changed for its whole duration (a hung or remote holder). The next
holder after another process drops everything it knew and sweeps every object an attempt
labelled (see `kubebench.grading.teardown`): leftovers of a crash, generateName ones
included. After its own release, a process that finds the Lease untouched keeps what it
knew.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import LEASES, ApiResponse, KubeClient
from kubebench.cluster.processes import process_start_time
from kubebench.errors import InfrastructureError, UserError

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kubebench-grader"
_PATH = LEASES.path(LEASE_NAMESPACE, LEASE_NAME)
_COLLECTION = LEASES.path(LEASE_NAMESPACE)

# Every GraderLease alive in this process, by token: a holder with this process's PID
# whose token is not here (or whose event loop has closed) is gone.
_LIVE: weakref.WeakValueDictionary[str, GraderLease] = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class Holder:
    """Who holds the Lease: host, PID, the process's start time and a per-lease token."""

    host: str
    pid: int
    started: str
    token: str

    @property
    def identity(self) -> str:
        return f"{self.host}/{self.pid}/{self.started}/{self.token}"

    @classmethod
    def parse(cls, identity: str) -> Holder | None:
        parts = identity.rsplit("/", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GraderLease:
    """The Lease as one process (event loop) holds it: `enter()` before an attempt
    touches the cluster, `exit()` once its cleanup is done."""

    def __init__(
        self,
        *,
        duration_s: int = defaults.GRADER_LEASE_DURATION_S,
        wait_s: float = defaults.GRADER_LEASE_WAIT_S,
    ) -> None:
        pid = os.getpid()
        self.holder = Holder(
            socket.gethostname(), pid, process_start_time(pid) or "0", secrets.token_hex(4)
        )
        self.duration_s = duration_s
        self.wait_s = wait_s
        self.users = 0
        # Bumped at each acquisition: an attempt that began under another epoch may have
        # overlapped another grader (the Lease was lost meanwhile).
        self.epoch = 0
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._transition = asyncio.Lock()  # acquire and release, one at a time
        self._writing = asyncio.Lock()  # renewals and the release
        self._held: dict[str, Any] | None = None  # the Lease as last written by us
        self._released_rv: str | None = None  # its resourceVersion after our release
        self._transitions = 0
        self._sweep_owed = False
        self._renewer: asyncio.Task[None] | None = None
        _LIVE[self.holder.token] = self

    @property
    def label(self) -> str:
        """A label value naming this grader (objects' `kubebench.io/attempt` start so)."""
        return self.holder.token

    # -- enter / exit ---------------------------------------------------------------

    async def enter(self, kube: KubeClient, on_takeover: Callable[[], Awaitable[None]]) -> int:
        """Hold the Lease for one more attempt; returns the epoch to check at the end.
        `on_takeover` runs (under the Lease) when another process may have graded since
        this one last held it."""
        self.users += 1
        try:
            async with self._transition:
                if self._held is None:
                    took_over = await self._acquire(kube)
                    self.epoch += 1
                    self._renewer = asyncio.ensure_future(self._renew(kube))
                    self._sweep_owed = self._sweep_owed or took_over
                if self._sweep_owed:  # also when an earlier on_takeover failed
                    await on_takeover()
                    self._sweep_owed = False
            return self.epoch
        except BaseException:
            self.users -= 1
            if self.users == 0 and self._held is not None:
                task = asyncio.ensure_future(self._release_now(kube))
                await asyncio.shield(task)
            raise

    async def exit(self, kube: KubeClient) -> None:
        """One attempt fewer; the last one gives the Lease back."""
        self.users -= 1
        if self.users == 0:
            await self._release_now(kube)

    def still_held(self, epoch: int) -> bool:
        """Whether the Lease has been held without a break since `enter` gave `epoch`."""
        return self._held is not None and self.epoch == epoch

    # -- the Lease ------------------------------------------------------------------

    def _body(self, holder: str, rv: str | None, *, acquired: bool) -> dict[str, Any]:
        now = _now()
        spec: dict[str, Any] = {
            "holderIdentity": holder,
            "leaseDurationSeconds": self.duration_s,
            "renewTime": now,
            "leaseTransitions": self._transitions,
        }
        if acquired:
            spec["acquireTime"] = now
        elif self._held is not None:
            spec["acquireTime"] = self._held["spec"].get("acquireTime", now)
        meta: dict[str, Any] = {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE}
        if rv is not None:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": spec,
        }

    @staticmethod
    async def _put(kube: KubeClient, body: dict[str, Any]) -> ApiResponse:
        resp = await kube.request("PUT", _PATH, body=body)
        if not resp.ok and resp.status_code != 409:
            raise InfrastructureError(f"cannot write Lease {LEASE_NAME}: {resp.message}")
        return resp

    async def _acquire(self, kube: KubeClient) -> bool:
        """Take the Lease, waiting while another live grader holds it. True when another
        process may have held it since our last release."""
        if self._released_rv is not None:
            body = self._body(self.holder.identity, self._released_rv, acquired=True)
            resp = await self._put(kube, body)
            self._released_rv = None
            if resp.ok:
                self._held = resp.body
                return False
        deadline = time.monotonic() + self.wait_s
        seen: tuple[str, float] | None = None  # (resourceVersion, when first seen)
        while True:
            resp = await kube.request("GET", _PATH)
            if resp.status_code == 404:
                body = self._body(self.holder.identity, None, acquired=True)
                created = await kube.request("POST", _COLLECTION, body=body)
                if created.ok:
                    self._held = created.body
                    return True
                if created.status_code != 409:
                    raise InfrastructureError(
                        f"cannot create Lease {LEASE_NAME}: {created.message}"
                    )
                continue
            if not resp.ok:
                raise InfrastructureError(f"cannot read Lease {LEASE_NAME}: {resp.message}")
            lease = resp.body or {}
            rv = str(lease.get("metadata", {}).get("resourceVersion", ""))
            spec = lease.get("spec") or {}
            identity = str(spec.get("holderIdentity") or "")
            if seen is None or seen[0] != rv:
                seen = (rv, time.monotonic())
            duration = float(spec.get("leaseDurationSeconds") or self.duration_s)
            if not identity or self._gone(identity) or time.monotonic() - seen[1] > duration:
                self._transitions = int(spec.get("leaseTransitions") or 0) + 1
                taken = await self._put(kube, self._body(self.holder.identity, rv, acquired=True))
                if taken.ok:
                    self._held = taken.body
                    return True
                continue  # someone else was quicker: look again
            if time.monotonic() > deadline:
                other = Holder.parse(identity)
                who = other.describe() if other else identity
                raise UserError(
                    f"another KubeBench process ({who}) is grading on this control plane; "
                    f"waited {self.wait_s:.0f}s for it",
                    hint="grade one run at a time per cluster, or start a second cluster",
                )
            await asyncio.sleep(defaults.GRADER_LEASE_POLL_S)

    def _gone(self, identity: str) -> bool:
        other = Holder.parse(identity)
        if other is None or other.host != self.holder.host:
            return False
        if other.pid == self.holder.pid:
            live = _LIVE.get(other.token)
            # A loop of this thread other than the running one is suspended under a
            # blocking call of it (a CLI invoked from a test): it cannot act until we
            # return, and it finds its Lease lost then.
            return live is None or live._loop.is_closed() or live._thread == self._thread
        return process_start_time(other.pid) != other.started

    async def _renew(self, kube: KubeClient) -> None:
        interval = self.duration_s / 3
        while self._held is not None:
            await asyncio.sleep(interval)
            async with self._writing:
                if self._held is None:
                    return
                rv = self._held["metadata"]["resourceVersion"]
                try:
                    body = self._body(self.holder.identity, rv, acquired=False)
                    resp = await self._put(kube, body)
                except InfrastructureError:
                    continue  # the next tick tries again; others wait a whole duration
                if resp.ok:
                    self._held = resp.body
                else:  # 409: another process took it over: what we knew is void
                    self._held = None
                    return

    async def _release_now(self, kube: KubeClient) -> None:
        async with self._transition:
            if self.users or self._held is None:
                return
            # Stop the renewer first: on a dead cluster its PUT hangs for the whole API
            # timeout while it holds `_writing`.
            renewer, self._renewer = self._renewer, None
            if renewer is not None:
                renewer.cancel()
                await asyncio.wait([renewer])  # our own cancellation still propagates
            async with self._writing:
                if self._held is None:  # the renewer found the Lease taken over
                    return
                rv = self._held["metadata"]["resourceVersion"]
                body = self._body("", rv, acquired=False)
                self._held = None
                with contextlib.suppress(InfrastructureError, TimeoutError):
                    async with asyncio.timeout(defaults.GRADER_LEASE_RELEASE_TIMEOUT_S):
                        resp = await kube.request("PUT", _PATH, body=body)
                    if resp.ok:
                        self._released_rv = str((resp.body or {})["metadata"]["resourceVersion"])
