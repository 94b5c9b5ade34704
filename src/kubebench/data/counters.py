"""Per-stage counts: what went in, what came out, and every drop with its reason."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Stage names in pipeline order; the card lists them in this order.
STAGES = (
    "read",
    "license",
    "file_filters",
    "templates",
    "exact_file_dedup",
    "split_parse",
    "kubernetes_only",
    "placeholders",
    "api_versions",
    "exact_dedup",
    "near_dedup",
    "credentials",
    "decontamination",
    "dry_run",
    "docs",
    "synthesis",
    "example_decontamination",
)


# Line numbers, indices and counts; digits inside names (k8s, v1beta1) stay.
_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d+(?![A-Za-z0-9])")


def bucket(reason: str, limit: int = 120) -> str:
    """A reason as a bucket name: numbers (and quoted names) folded, so that like counts
    with like ("invalid YAML at line N, column N: ...")."""
    text = _NUMBER.sub("N", " ".join(reason.split()))
    return re.sub(r'"[^"]{0,200}"', '"…"', text)[:limit]


@dataclass
class StageCount:
    """In, out and drop reasons of one stage, plus the time it spent."""

    name: str
    unit: str = "objects"
    seen: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    apart: Counter[str] = field(default_factory=Counter)  # counted apart, not failures
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        rate = self.seen / self.seconds if self.seconds > 0 else None
        return {
            "unit": self.unit,
            "in": self.seen,
            "kept": self.kept,
            "dropped": sum(self.dropped.values()),
            "reasons": dict(self.dropped.most_common()),
            "counted_apart": dict(self.apart.most_common()),
            "seconds": round(self.seconds, 3),
            "per_second": round(rate, 1) if rate else None,
        }


class StageCounters:
    """Every stage's counts; `timed(stage)` adds the wall time of a block to a stage."""

    def __init__(self) -> None:
        self.stages: dict[str, StageCount] = {name: StageCount(name) for name in STAGES}
        for name in ("read", "license", "file_filters", "templates", "exact_file_dedup"):
            self.stages[name].unit = "files"
        for name in ("split_parse", "kubernetes_only"):
            self.stages[name].unit = "documents"  # `kind: List` items are expanded after
        self.stages["docs"].unit = "sections"
        self.stages["synthesis"].unit = "examples"
        self.stages["example_decontamination"].unit = "examples"

    def __getitem__(self, name: str) -> StageCount:
        return self.stages[name]

    def timed(self, name: str) -> _Timer:
        return _Timer(self.stages[name])

    def as_dict(self) -> dict[str, Any]:
        return {name: s.as_dict() for name, s in self.stages.items() if s.seen or s.dropped}


class _Timer:
    def __init__(self, stage: StageCount) -> None:
        self.stage = stage
        self.start = 0.0

    def __enter__(self) -> StageCount:
        self.start = time.perf_counter()
        return self.stage

    def __exit__(self, *exc: object) -> None:
        self.stage.seconds += time.perf_counter() - self.start
