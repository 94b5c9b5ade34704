"""`kubebench grade`: grade one answer file against one task, as the runner would."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from kubebench.cli import options
from kubebench.cli.console import err, out
from kubebench.errors import InfrastructureError, UserError
from kubebench.grading.verdict import Verdict
from kubebench.tasks.schema import Task


def register(app: typer.Typer) -> None:
    """Add `grade` to the root app."""
    app.command("grade")(grade)


def _load_task(task_id: str | None, task_file: Path | None) -> Task:
    if (task_id is None) == (task_file is None):
        raise UserError("give exactly one of --task ID or --task-file PATH")
    if task_file is not None:
        try:
            return Task.model_validate_json(task_file.read_text())
        except OSError as exc:
            raise UserError(f"cannot read task file {task_file}: {exc.strerror}") from None
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            raise UserError(f"{task_file} is not a valid task: {first}") from None
    from kubebench.tasks.loader import get_task

    assert task_id is not None
    return get_task(task_id)


def _read_answer(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read answer file {path}: {exc.strerror}") from None


def _print_verdict(verdict: Verdict) -> None:
    if verdict.infrastructure_error:
        out.print(f"[bold yellow]NOT GRADED[/] (infrastructure error at stage {verdict.stage})")
    elif verdict.success:
        out.print(f"[bold green]PASS[/] task {escape(verdict.task_id)}")
    else:
        out.print(f"[bold red]FAIL[/] task {escape(verdict.task_id)} at stage {verdict.stage}")
    if verdict.reason:
        out.print(f"  {escape(verdict.reason)}", soft_wrap=True)
    out.print(
        f"  runtime valid: {'yes' if verdict.runtime_valid else 'no'}   "
        f"operational valid: {'yes' if verdict.operational_valid else 'no'}"
    )
    if verdict.documents:
        docs = Table(title="documents", title_justify="left")
        for column in ("#", "kind", "name", "dry-run", "applied", "server says"):
            docs.add_column(column)
        for doc in verdict.documents:
            where = f"{doc.namespace}/{doc.name}" if doc.namespace else doc.name
            said = "; ".join([doc.message] * bool(doc.message) + doc.warnings)
            docs.add_row(
                str(doc.index + 1),
                escape(doc.kind),
                escape(where),
                "ok" if doc.dry_run_ok else "-",
                "ok" if doc.applied else "-",
                escape(said),
            )
        out.print(docs)
    if verdict.expectations:
        checks = Table(title="expectations", title_justify="left")
        for column in ("#", "check", "result", "observed"):
            checks.add_column(column)
        for exp in verdict.expectations:
            result = "[green]pass[/]" if exp.passed else f"[red]fail[/] {escape(exp.reason)}"
            observed = "" if exp.observed is None else json.dumps(exp.observed)[:80]
            checks.add_row(str(exp.index + 1), escape(exp.description), result, escape(observed))
        out.print(checks)
    if verdict.cleanup_error:
        err.print(f"[yellow]cleanup:[/] {escape(verdict.cleanup_error)}")
    timings = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in verdict.timings.items())
    out.print(f"[dim]timings: {timings}[/]", soft_wrap=True)


def grade(
    task: str = typer.Option(None, "--task", "-t", help="Task id (see `kubebench tasks list`)."),
    task_file: Path = typer.Option(
        None, "--task-file", help="A task as a JSON file, instead of --task."
    ),
    answer: Path = typer.Option(
        ..., "--answer", "-a", help="Answer file: YAML or a model's Markdown reply; - for stdin."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the Verdict as JSON."),
    kubeconfig: Path = options.KUBECONFIG,
    context: str = options.CONTEXT,
    allow_external_writes: bool = options.ALLOW_EXTERNAL_WRITES,
) -> None:
    """Grade an answer against one task on a real API server, as the runner does.

    Exit code 0 when the answer passes, 1 when it fails, 2 on a usage error and 3 when
    the cluster failed (the answer was not graded).
    """
    the_task = _load_task(task, task_file)
    data = _read_answer(answer)
    from kubebench.cluster.client import KubeClient
    from kubebench.cluster.session import cluster_connection, running_connection
    from kubebench.grading.pipeline import grade_answer, settle_cleanups

    if kubeconfig is None and context is None and running_connection() is None:
        err.print(
            "no control plane is running: starting an embedded one for this grade "
            "(`kubebench cluster up --detach` keeps one between commands)"
        )

    async def run(conn: object) -> Verdict:
        async with KubeClient(conn) as kube:  # type: ignore[arg-type]
            verdict = await grade_answer(the_task, data, kube, wait_for_cleanup=True)
            await settle_cleanups(kube)
            return verdict

    with cluster_connection(
        kubeconfig, context, allow_external_writes=allow_external_writes
    ) as conn:
        verdict = asyncio.run(run(conn))
    if as_json:
        typer.echo(verdict.model_dump_json(indent=2))
    else:
        _print_verdict(verdict)
    if verdict.infrastructure_error:
        raise InfrastructureError(verdict.infrastructure_error)
    raise typer.Exit(0 if verdict.success else 1)
