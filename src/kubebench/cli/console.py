"""Shared terminal output for CLI modules: consoles and progress reporting.

On a terminal, progress is a rich bar. Anywhere else (a log file, CI, `nohup`) a bar is
invisible until the end, so the same `Progress` prints one plain line per task at a
steady interval instead: done/total, percentage, elapsed time, ETA and the task's text
fields (e.g. the run's pass rate). Every long command gets its reporter from
`progress_bar()`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kubebench.settings import settings

if TYPE_CHECKING:
    from kubebench.runner.store import RunStore

out = Console()
err = Console(stderr=True)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _remaining(task: Task) -> float | None:
    if task.time_remaining is not None:
        return task.time_remaining
    # rich estimates speed from the last 30 s of updates only; right after a long pause
    # (a training run's evaluation) it has a single sample: use the whole task's pace.
    if task.total and task.completed and task.elapsed:
        return task.elapsed / task.completed * max(0.0, task.total - task.completed)
    return None


def progress_line(task: Task) -> str:
    """One plain line for `task`: `attempts 12/48 (25 %)  elapsed 0:01:02  eta 0:03:06 …`."""
    done = int(task.completed)
    if task.total is None:
        count = f"{done} done"
    else:
        count = f"{done}/{int(task.total)} ({task.percentage:.0f} %)"
    eta = "0:00:00" if task.finished else _clock(_remaining(task))
    extra = [str(v) for v in task.fields.values() if isinstance(v, str) and v]
    parts = [f"{task.description} {count}", f"elapsed {_clock(task.elapsed or 0.0)}"]
    if task.total is not None:
        parts.append(f"eta {eta}")
    return "  ".join([*parts, *extra])


class PlainLineProgress(Progress):
    """A rich `Progress` that prints `progress_line()` per started task every
    `interval_s` seconds and once more when it stops, instead of drawing a live bar.

    The lines come from a timer thread (as rich's own refresh does), so they keep
    coming while the work itself is stuck: a hung run and a slow one look different.
    """

    def __init__(
        self, *columns: str | ProgressColumn, console: Console, interval_s: float, **kw: Any
    ) -> None:
        super().__init__(*columns, console=console, disable=True, **kw)
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._timer: threading.Thread | None = None
        self._printed_final: set[int] = set()

    def start(self) -> None:
        super().start()
        if self._timer is None:
            self._stopping.clear()
            self._timer = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
            self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._stopping.set()
            self._timer.join()
            self._timer = None
            self.print_lines(final=True)
        super().stop()

    def _tick(self) -> None:
        next_at = time.monotonic() + self.interval_s
        while not self._stopping.wait(max(0.0, next_at - time.monotonic())):
            self.print_lines()
            next_at += self.interval_s

    def print_lines(self, *, final: bool = False) -> None:
        """Print one line per started task (per unfinished one, unless `final`)."""
        with self._lock:
            tasks = [t for t in self.tasks if t.started and t.visible]
            lines = []
            for task in tasks:
                if task.finished and task.id in self._printed_final:
                    continue
                if final and not task.completed:
                    # Work that failed before it began: its error line says enough.
                    continue
                if task.finished or final:
                    self._printed_final.add(task.id)
                lines.append(progress_line(task))
        for line in lines:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)


def progress_bar(
    *extra_columns: TextColumn, console: Console | None = None, transient: bool = False
) -> Progress:
    """A progress bar with count, percentage, elapsed time and ETA, plus extra columns;
    plain lines every `settings().progress_interval_s` when the console is not a terminal.

    `transient` bars vanish when done, so that an error after them stands alone.
    """
    console = console or err
    if not console.is_terminal:
        return PlainLineProgress(console=console, interval_s=settings().progress_interval_s)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        *extra_columns,
        console=console,
        transient=transient,
    )


def print_store_warnings(store: RunStore) -> None:
    """The lines a run store skipped or set aside, one warning each, on stderr."""
    for warning in store.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
