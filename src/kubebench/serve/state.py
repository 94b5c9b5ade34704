"""What every route of one app shares (kept on `app.state.serve`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from kubebench.cluster.client import KubeClient
from kubebench.serve.catalog import RunCatalog
from kubebench.serve.downloads import DownloadRegistry
from kubebench.serve.metrics import ServeMetrics
from kubebench.serve.model_pool import ModelPool
from kubebench.serve.settings import ServeSettings
from kubebench.serve.validation import Validator


@dataclass
class ServeState:
    settings: ServeSettings
    pool: ModelPool
    catalog: RunCatalog
    downloads: DownloadRegistry
    metrics: ServeMetrics = field(default_factory=ServeMetrics)
    started_at: int = field(default_factory=lambda: int(time.time()))
    kube: KubeClient | None = None
    validator: Validator | None = None
    validation_error: str | None = None  # why validation is unavailable
    validation_ready: asyncio.Event = field(default_factory=asyncio.Event)
    background: list[asyncio.Task[None]] = field(default_factory=list)
