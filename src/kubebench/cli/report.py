"""`kubebench report RUN_DIR`: a stored run's scores as terminal tables, JSON, Markdown
or one self-contained HTML page."""

from __future__ import annotations

import io
import json
from enum import StrEnum
from pathlib import Path

import typer

from kubebench.cli.console import err, out
from kubebench.errors import UserError


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    md = "md"
    html = "html"


def register(app: typer.Typer) -> None:
    """Add `report` to the root app."""
    app.command("report")(report)


def write_output(text: str, path: Path | None) -> None:
    """Print `text`, or write it to `path` (and say so on stderr)."""
    if path is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc
    err.print(f"wrote {path}")


def report(
    run_dir: Path = typer.Argument(..., help="A run folder, e.g. runs/<run-id>."),
    fmt: ReportFormat = typer.Option(
        ReportFormat.text, "--format", "-f", help="text (terminal tables), json, md or html."
    ),
    out_file: Path = typer.Option(
        None, "--out", "-o", help="Write the report to this file instead of stdout."
    ),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json.", hidden=True),
    by_kind: bool = typer.Option(
        False, "--by-kind", help="Text format: add per-kind runtime/operational validity rates."
    ),
) -> None:
    """A run's report: provenance, rates with 95 % intervals, the kind × tier grid, where
    attempts fail, pass@k / pass^k, judge scores, cost, text metrics, failed attempts.

    `--format html --out report.html` writes one self-contained page with plots. A run
    still being written is read as it stands (complete attempts only).
    """
    from kubebench.report.run_reading import read_run
    from kubebench.report.run_report import build_report

    if as_json:
        fmt = ReportFormat.json
    snapshot = read_run(run_dir)
    for warning in snapshot.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    with err.status(f"reading {len(snapshot.attempts)} attempts of {snapshot.label}"):
        data = build_report(snapshot)
    if fmt is ReportFormat.json:
        write_output(json.dumps(data, indent=2) + "\n", out_file)
    elif fmt is ReportFormat.md:
        from kubebench.report.run_views import render_markdown

        write_output(render_markdown(data), out_file)
    elif fmt is ReportFormat.html:
        from kubebench.report.run_views import render_html

        with err.status("drawing plots"):
            html = render_html(data)
        write_output(html, out_file)
    else:
        from rich.console import Console, Group

        from kubebench.report.run_views import render_text_extras
        from kubebench.report.summary import summarize
        from kubebench.report.tables import render_summary

        summary = summarize(snapshot.meta, snapshot.attempts, snapshot.scores)
        view = Group(render_summary(summary, by_kind=by_kind), render_text_extras(data))
        if out_file is None:
            out.print(view)
            if snapshot.writer_active:
                err.print("[yellow]note:[/] a kubebench process is still writing this run")
        else:
            console = Console(record=True, width=140, file=io.StringIO())
            console.print(view)
            write_output(console.export_text(), out_file)
