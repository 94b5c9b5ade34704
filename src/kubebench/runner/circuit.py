"""The circuit breaker of a run: one health check of the cluster shared by every attempt.

Without it, each attempt on a dead cluster spends its own retries and API timeouts
(minutes each) before it is recorded as an infrastructure error, and a run of hundreds
of attempts takes as many minutes to give up. Here one loop probes the API server
(`kubebench.cluster.health.probe_api_server`) every `interval_s`; an attempt that meets
an infrastructure error asks for a probe at once and waits for the verdict before it
retries, and an attempt that finishes while probes fail is stored only once they pass
(its verdict may be the outage's). `failures_to_trip` failed probes in a row, spanning
at least `down_for_s` (a blip is not an outage), open the breaker: `watch()` raises,
which stops the whole run at once. Attempts cut off that way are not recorded, so
`--resume` redoes exactly what was not graded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from kubebench import defaults
from kubebench.errors import InfrastructureError

Probe = Callable[[], Awaitable[str | None]]  # None when healthy, else why not


class ClusterCircuitBreaker:
    """Shared by all attempts of a run; `watch()` runs beside them."""

    def __init__(
        self,
        probe: Probe,
        *,
        where: str,
        interval_s: float = defaults.HEALTH_PROBE_INTERVAL_S,
        failures_to_trip: int = defaults.HEALTH_FAILURES_TO_TRIP,
        down_for_s: float = defaults.HEALTH_DOWN_FOR_S,
    ) -> None:
        self.probe = probe
        self.where = where
        self.interval_s = interval_s
        self.failures_to_trip = failures_to_trip
        self.down_for_s = down_for_s
        self.failures = 0  # consecutive failed probes
        self.reason: str | None = None  # the last failed probe's reason
        self.first_failure_at: float | None = None
        self.tripped_at: float | None = None
        self._probe_lock = asyncio.Lock()
        self._probes = 0

    @property
    def tripped(self) -> bool:
        return self.tripped_at is not None

    def error(self) -> InfrastructureError:
        waited = (self.tripped_at or 0.0) - (self.first_failure_at or 0.0)
        return InfrastructureError(
            f"the cluster at {self.where} stopped answering ({self.reason}; "
            f"{self.failures} failed health checks over {waited:.0f}s): the run stopped"
        )

    async def probe_once(self) -> bool:
        """Probe now (callers arriving during a probe share its result); True if healthy."""
        seen = self._probes
        async with self._probe_lock:
            if self._probes == seen:  # nobody probed while we waited for the lock
                self._record(await self.probe())
            return self.failures == 0

    def _record(self, reason: str | None) -> None:
        self._probes += 1
        if reason is None:
            self.failures, self.reason, self.first_failure_at = 0, None, None
            return
        self.failures += 1
        self.reason = reason
        if self.first_failure_at is None:
            self.first_failure_at = time.monotonic()
        now = time.monotonic()
        if (
            self.tripped_at is None
            and self.failures >= self.failures_to_trip
            and now - self.first_failure_at >= self.down_for_s
        ):
            self.tripped_at = now

    async def watch(self) -> None:
        """Probe every `interval_s` (sooner while probes fail) until the breaker trips;
        then raise its InfrastructureError. Cancel it when the run is done."""
        while True:
            started = time.monotonic()
            await self.probe_once()
            if self.tripped:
                raise self.error()
            pause = self.interval_s - (time.monotonic() - started)
            if pause > 0:
                await asyncio.sleep(pause)  # the probe cadence, not a wait on a condition

    async def settled(self) -> None:
        """Return at once while the last probe passed; otherwise as `before_retry`."""
        if self.failures:
            await self.before_retry()

    async def before_retry(self) -> None:
        """An attempt met an infrastructure error: return once the cluster answers its
        health check again. While it does not, the attempt waits here (not spending its
        retries); if the breaker trips, `watch()` stops the run and this is cancelled."""
        while not await self.probe_once():
            if self.tripped:
                raise self.error()
            await asyncio.sleep(self.interval_s)


__all__ = ["ClusterCircuitBreaker"]
