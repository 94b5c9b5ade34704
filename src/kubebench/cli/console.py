"""Shared terminal output for CLI modules: consoles and progress bars."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

out = Console()
err = Console(stderr=True)


def progress_bar(
    *extra_columns: TextColumn, console: Console | None = None, transient: bool = False
) -> Progress:
    """A progress bar with count, percentage, elapsed time and ETA, plus extra columns.

    `transient` bars vanish when done, so that an error after them stands alone.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        *extra_columns,
        console=console or err,
        transient=transient,
    )
