"""`kubebench report RUN_DIR`: a stored run's scores, printed again from its files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kubebench.cli.console import out, print_store_warnings


def register(app: typer.Typer) -> None:
    """Add `report` to the root app."""
    app.command("report")(report)


def report(
    run_dir: Path = typer.Argument(..., help="A run folder, e.g. runs/<run-id>."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    by_kind: bool = typer.Option(
        False, "--by-kind", help="Add per-kind runtime/operational validity rates."
    ),
) -> None:
    """Print a run's summary: kind × tier success grid, rates, pass@k and judge means."""
    from kubebench.report.summary import summarize_store
    from kubebench.report.tables import render_summary
    from kubebench.runner.store import RunStore

    with RunStore.open(run_dir) as store:
        summary = summarize_store(store)
    print_store_warnings(store)
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    out.print(render_summary(summary, by_kind=by_kind))
