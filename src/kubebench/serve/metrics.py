"""Prometheus metrics of one server, on a registry of its own (two apps in one process,
as in tests, never share counters)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_VALIDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class ServeMetrics:
    """Requests by route and status, tokens generated, time to first token, streams in
    flight, and how long /v1/validate takes."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "kubebench_serve_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.tokens = Counter(
            "kubebench_serve_generated_tokens", "Completion tokens generated", ["model"], registry=r
        )
        self.ttft = Histogram(
            "kubebench_serve_time_to_first_token_seconds",
            "Seconds from a chat request to its first generated text",
            ["model"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.active_streams = Gauge(
            "kubebench_serve_active_streams", "Streaming chat responses in flight", registry=r
        )
        self.generations = Gauge(
            "kubebench_serve_active_generations", "Chat completions generating", registry=r
        )
        self.validate_latency = Histogram(
            "kubebench_serve_validate_seconds",
            "Seconds per /v1/validate request",
            buckets=_VALIDATE_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
