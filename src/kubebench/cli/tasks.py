"""`kubebench tasks ...`: browse, count, export and regenerate the task splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer
from rich.syntax import Syntax
from rich.table import Table

from kubebench import defaults
from kubebench.cli.console import out
from kubebench.errors import UserError

tasks_app = typer.Typer(
    rich_markup_mode=None,
    help="Browse, count, export and regenerate the benchmark's tasks.",
    no_args_is_help=True,
)

SPLIT_HELP = "Task split: test or dev."


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(tasks_app, name="tasks")


def _filtered(split: str, kind: str | None, tier: str | None) -> list:
    from kubebench.tasks.loader import load_tasks
    from kubebench.tasks.selection import TaskSelection, select_tasks

    selection = TaskSelection(kinds=(kind,) if kind else (), tiers=(tier,) if tier else ())
    return select_tasks(load_tasks(split), selection)


@tasks_app.command("list")
def list_tasks(
    split: str = typer.Option(defaults.DEFAULT_TASK_SPLIT, "--split", help=SPLIT_HELP),
    kind: str = typer.Option(None, "--kind", help="Only this kind (e.g. Role)."),
    tier: str = typer.Option(None, "--tier", help="Only this tier: basic, intermediate, advanced."),
) -> None:
    """List task ids with their kind, tier and the start of the prompt."""
    tasks = _filtered(split, kind, tier)
    table = Table(title=f"{len(tasks)} tasks ({split})")
    for column in ("id", "kind", "tier", "prompt"):
        table.add_column(column, overflow="ellipsis", no_wrap=column != "prompt")
    for t in tasks:
        first = " ".join(t.prompt.split())
        table.add_row(t.id, t.category.value, t.tier.value, first[:90])
    out.print(table)


@tasks_app.command("show")
def show(task_id: str = typer.Argument(..., help="Task id, e.g. role-advanced-017.")) -> None:
    """Show one task: prompt, setup, allowed kinds, expectations and reference answer."""
    from kubebench.tasks.authoring.drafting import to_yaml
    from kubebench.tasks.loader import get_task

    task = get_task(task_id)
    out.rule(f"{task.id}  ({task.category.value}, {task.tier.value})")
    out.print("[bold]Prompt[/]")
    out.print(task.prompt, highlight=False, markup=False)
    out.print(f"\n[bold]Allowed kinds:[/] {', '.join(task.allowed_kinds)}")
    out.print(f"[bold]Namespaces:[/] {', '.join(task.namespaces) or '(cluster-scoped only)'}")
    if task.setup:
        out.print("\n[bold]Setup (created by the harness first)[/]")
        out.print(Syntax(to_yaml(task.setup), "yaml"))
    out.print("\n[bold]Expectations[/]")
    for i, exp in enumerate(task.expectations):
        out.print(
            f"{i}. ", exp.model_dump_json(exclude_defaults=True), highlight=False, markup=False
        )
    out.print("\n[bold]Reference[/]")
    out.print(Syntax(task.reference, "yaml"))


@tasks_app.command("stats")
def stats(
    split: str = typer.Option(defaults.DEFAULT_TASK_SPLIT, "--split", help=SPLIT_HELP),
) -> None:
    """Count tasks per kind (rows) and tier (columns), with totals."""
    from kubebench.tasks.schema import Kind, Tier

    tasks = _filtered(split, None, None)
    counts = Counter((t.category, t.tier) for t in tasks)
    table = Table(title=f"kubebench tasks stats --split {split}")
    table.add_column("kind")
    for tier in Tier:
        table.add_column(tier.value, justify="right")
    table.add_column("total", justify="right", style="bold")
    for kind in Kind:
        row = [counts[(kind, tier)] for tier in Tier]
        table.add_row(kind.value, *map(str, row), str(sum(row)))
    totals = [sum(counts[(k, tier)] for k in Kind) for tier in Tier]
    table.add_row("total", *map(str, totals), str(len(tasks)), style="bold")
    out.print(table)


@tasks_app.command("export")
def export(
    split: str = typer.Option(defaults.DEFAULT_TASK_SPLIT, "--split", help=SPLIT_HELP),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl (the shipped format) or json."),
    out_path: Path = typer.Option(None, "--out", help="Write here instead of stdout."),
    kind: str = typer.Option(None, "--kind", help="Only this kind."),
    tier: str = typer.Option(None, "--tier", help="Only this tier."),
) -> None:
    """Export tasks as JSONL (one task per line, like the shipped files) or a JSON array."""
    from kubebench.tasks.loader import task_to_line

    if fmt not in ("jsonl", "json"):
        raise UserError(f"unknown format {fmt!r}", hint="use --format jsonl or --format json")
    tasks = _filtered(split, kind, tier)
    lines = [task_to_line(t) for t in tasks]
    if fmt == "jsonl":
        text = "".join(line + "\n" for line in lines)
    else:
        text = json.dumps([json.loads(line) for line in lines], indent=2, ensure_ascii=False) + "\n"
    if out_path is None:
        typer.echo(text, nl=False)
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    out.print(f"wrote {len(tasks)} tasks to {out_path}")


@tasks_app.command("similarity")
def similarity(
    split: str = typer.Option(defaults.DEFAULT_TASK_SPLIT, "--split", help=SPLIT_HELP),
    top: int = typer.Option(
        defaults.SIMILARITY_TOP, "--top", min=1, help="How many closest pairs to list."
    ),
) -> None:
    """Near-duplicate report: word 3-gram Jaccard similarity between prompts."""
    from kubebench.tasks.similarity import similarity_report

    report = similarity_report(_filtered(split, None, None), top=top)
    summary = Table(title=f"nearest-neighbour similarity over {len(report.nearest)} prompts")
    for key in ("max", "p99", "p95", "median"):
        summary.add_column(key, justify="right")
    summary.add_row(*(f"{v:.3f}" for v in report.summary().values()))
    out.print(summary)
    pairs = Table(title="closest pairs")
    for column in ("jaccard", "task", "task"):
        pairs.add_column(column)
    for sim, a, b in report.top_pairs:
        pairs.add_row(f"{sim:.3f}", a, b)
    out.print(pairs)


@tasks_app.command("generate")
def generate(
    dest: Path = typer.Option(
        None, "--dest", help="Folder to write into (default: the package's data folder)."
    ),
) -> None:
    """Regenerate the JSONL splits and the JSON Schema from the fixed seeds."""
    from kubebench.tasks.authoring.publish import write_shipped_files

    for path in write_shipped_files(dest):
        out.print(f"wrote {path}")
