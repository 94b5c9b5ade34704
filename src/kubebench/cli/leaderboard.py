"""`kubebench leaderboard RUNS_DIR`: every run in a folder ranked, comparable runs together."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from kubebench.cli.console import err
from kubebench.cli.report import write_output


class LeaderboardFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add `leaderboard` to the root app."""
    app.command("leaderboard")(leaderboard)


def leaderboard(
    runs_dir: Path = typer.Argument(..., help="The folder that holds runs, e.g. runs/."),
    fmt: LeaderboardFormat = typer.Option(
        LeaderboardFormat.md, "--format", "-f", help="md, html or json (what the web UI reads)."
    ),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write to this file, not stdout."),
) -> None:
    """One row per model and configuration: success with 95 % interval, runtime and
    operational validity, judge scores, pass@k, format errors, tokens and seconds per
    task, date, version and command. Only comparable runs (same split, task set, prompt
    version and tasks) share a table.
    """
    from kubebench.report.leaderboard import build_leaderboard
    from kubebench.report.run_reading import read_runs

    with err.status(f"reading runs under {runs_dir}"):
        listing = read_runs(runs_dir)
        data = build_leaderboard(listing)
    for path, why in listing.skipped:
        err.print(f"[yellow]skipped[/] {path}: {why}", highlight=False)
    if fmt is LeaderboardFormat.json:
        write_output(json.dumps(data, indent=2) + "\n", out_file)
    elif fmt is LeaderboardFormat.html:
        from kubebench.report.leaderboard_views import render_html

        write_output(render_html(data), out_file)
    else:
        from kubebench.report.leaderboard_views import render_markdown

        write_output(render_markdown(data), out_file)
