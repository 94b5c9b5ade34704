"""Progress of a build: the pipeline reports its counters after every chunk; a rich bar
on a terminal (in cli/) or plain periodic lines otherwise (here)."""

from __future__ import annotations

import sys
import time
from typing import IO, Protocol

from kubebench import defaults
from kubebench.data.counters import StageCounters


class Progress(Protocol):
    def update(self, counters: StageCounters, *, final: bool = False) -> None: ...


class NullProgress:
    def update(self, counters: StageCounters, *, final: bool = False) -> None:
        return None


def summary_line(counters: StageCounters, total: int | None = None) -> str:
    """`read 1200/2586 files | split_parse 3000 -> 2990 | dry_run 800 -> 795 ...`."""
    parts = []
    for name, stage in counters.stages.items():
        if not stage.seen:
            continue
        if name == "read":
            parts.append(f"read {stage.seen}{f'/{total}' if total else ''} {stage.unit}")
        else:
            parts.append(f"{name} {stage.seen}->{stage.kept}")
    return " | ".join(parts)


class PlainProgress:
    """One line at most every `interval_s` seconds, and one at the end."""

    def __init__(
        self,
        total: int | None = None,
        stream: IO[str] | None = None,
        interval_s: float = defaults.DATA_PROGRESS_INTERVAL_S,
        label: str = "data build",
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.label = label
        self._last = 0.0

    def update(self, counters: StageCounters, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.interval_s:
            return
        self._last = now
        done = " (done)" if final else ""
        print(
            f"{self.label}: {summary_line(counters, self.total)}{done}",
            file=self.stream,
            flush=True,
        )


def count_records(path_list: list, kind: str) -> int | None:
    """How many records the sources hold (JSONL lines, Parquet rows, Markdown files),
    for a progress total; None when a file cannot tell."""
    total = 0
    for path in path_list:
        suffix = path.suffix.lower()
        if kind == "markdown":
            total += 1
        elif suffix == ".parquet":
            try:
                import pyarrow.parquet as pq

                total += pq.ParquetFile(path).metadata.num_rows
            except Exception:  # the reader reports the bad file itself
                continue
        else:
            with path.open("rb") as fh:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return total
