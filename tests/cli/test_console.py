"""The shared progress reporter: a rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.console import Console

from kubebench.cli.console import PlainLineProgress, progress_bar, progress_line


def test_off_a_terminal_progress_prints_plain_lines_at_a_steady_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBEBENCH_PROGRESS_INTERVAL_S", "0.1")
    buffer = io.StringIO()
    console = Console(file=buffer, width=80)  # not a terminal
    with progress_bar(console=console) as bar:
        assert isinstance(bar, PlainLineProgress)
        task = bar.add_task("attempts", total=4, pass_rate="pass 50.0 %")
        bar.advance(task)
        time.sleep(0.35)  # stuck: lines keep coming all the same
        bar.update(task, advance=3)
    lines = buffer.getvalue().splitlines()
    pattern = re.compile(r"attempts (\d)/4 \(\d+ %\)  elapsed 0:00:0\d  eta \S+  pass 50.0 %")
    assert all(pattern.fullmatch(line) for line in lines), lines
    assert 3 <= len(lines) <= 6
    assert lines[0].startswith("attempts 1/4") and lines[-1].startswith("attempts 4/4 (100 %)")
    assert "eta 0:00:00" in lines[-1]


def test_on_a_terminal_it_is_a_rich_bar() -> None:
    console = Console(file=io.StringIO(), force_terminal=True)
    assert not isinstance(progress_bar(console=console), PlainLineProgress)


def test_a_task_of_unknown_size_reports_its_count() -> None:
    buffer = io.StringIO()
    with PlainLineProgress(console=Console(file=buffer, width=80), interval_s=60) as bar:
        task = bar.add_task("go build v1.37.2", total=None)
        bar.update(task, completed=7)
    assert buffer.getvalue().strip() == "go build v1.37.2 7 done  elapsed 0:00:00"


def test_after_a_long_pause_the_eta_falls_back_to_the_whole_tasks_pace() -> None:
    """rich's windowed speed has one sample right after a pause longer than its window."""
    bar = PlainLineProgress(console=Console(file=io.StringIO()), interval_s=60,
                            speed_estimate_period=0.05)  # fmt: skip
    task_id = bar.add_task("steps", total=4)
    bar.advance(task_id)
    time.sleep(0.1)
    bar.advance(task_id)
    task = bar.tasks[0]
    assert task.time_remaining is None
    assert re.search(r"eta 0:00:0\d$", progress_line(task)), progress_line(task)
