"""What one `kubebench serve` process serves and how it protects itself."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from kubebench import defaults
from kubebench.cluster.kubeconfig import Connection
from kubebench.errors import UserError


@dataclass
class ServeSettings:
    """Everything `create_app` needs. `connection` is the control plane /v1/validate
    dry-runs on (None: validation answers 503); it must be one KubeBench started."""

    models: list[str] = field(default_factory=list)
    runs_dir: Path | None = None
    host: str = defaults.SERVE_HOST
    port: int = defaults.SERVE_PORT
    api_key: str | None = None
    insecure: bool = False
    register: list[Path] = field(default_factory=list)
    connection: Connection | None = None
    max_body_bytes: int = defaults.SERVE_MAX_BODY_BYTES
    rate_per_s: float = defaults.SERVE_RATE_PER_S
    rate_burst: int = defaults.SERVE_RATE_BURST
    max_generations: int = defaults.SERVE_MAX_GENERATIONS
    max_queued: int = defaults.SERVE_MAX_QUEUED
    queue_wait_s: float = defaults.SERVE_QUEUE_WAIT_S
    download_cache: Path | None = None  # where folders are packed as .tar.gz

    def check(self) -> None:
        """Refuse unsafe or impossible settings with a one-line UserError."""
        if not is_loopback(self.host) and not self.api_key and not self.insecure:
            raise UserError(
                f"refusing to serve on {self.host} without an API key: anyone who can "
                "reach it could use the models and read the runs",
                hint="pass --api-key KEY (clients send `Authorization: Bearer KEY`), "
                "or --insecure to accept this",
            )
        if self.connection is not None and not self.connection.managed:
            raise UserError(
                f"validation dry-runs only on a control plane KubeBench started, not on "
                f"{self.connection.server}"
            )
        if self.max_generations < 1 or self.max_queued < 0:
            raise UserError("--max-generations must be at least 1 and --max-queued at least 0")
        if self.rate_per_s < 0 or self.rate_burst < 1:
            raise UserError("--rate-limit must be 0 (off) or more, and the burst at least 1")


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
