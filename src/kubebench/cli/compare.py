"""`kubebench compare RUN_A RUN_B [...]`: paired comparison of runs on the tasks they share."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from kubebench.cli.console import err, out
from kubebench.cli.report import write_output


class CompareFormat(StrEnum):
    text = "text"
    json = "json"
    html = "html"


def register(app: typer.Typer) -> None:
    """Add `compare` to the root app."""
    app.command("compare")(compare)


def compare(
    runs: list[Path] = typer.Argument(
        ..., help="Two or more run folders; the first is the baseline."
    ),
    fmt: CompareFormat = typer.Option(
        CompareFormat.text, "--format", "-f", help="text (terminal tables), json or html."
    ),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write to this file, not stdout."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Compare runs on different task sets, splits or prompt versions anyway.",
    ),
) -> None:
    """Compare runs with the first, paired over the attempts each pair graded: success
    differences overall and per kind × tier (paired bootstrap 95 % CI, exact McNemar
    test) and the tasks that flipped each way.

    Runs on different task sets or prompt versions are refused unless --force.
    """
    from kubebench.errors import UserError
    from kubebench.report.compare import compare_runs
    from kubebench.report.run_reading import read_run

    if len(runs) < 2:
        raise UserError("compare needs at least two runs", hint="kubebench compare RUN_A RUN_B")
    snapshots = [read_run(path) for path in runs]
    with err.status(f"comparing {len(snapshots)} runs"):
        data = compare_runs(snapshots, force=force)
    if fmt is CompareFormat.json:
        write_output(json.dumps(data, indent=2) + "\n", out_file)
    elif fmt is CompareFormat.html:
        from kubebench.report.compare_views import render_html

        write_output(render_html(data), out_file)
    else:
        from kubebench.report.compare_views import render_text

        if out_file is None:
            out.print(render_text(data))
        else:
            import io

            from rich.console import Console

            console = Console(record=True, width=160, file=io.StringIO())
            console.print(render_text(data))
            write_output(console.export_text(), out_file)
