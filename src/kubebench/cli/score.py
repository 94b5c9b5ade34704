"""`kubebench score RUN_DIR --scorer SPEC`: score a stored run with more scorers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from kubebench import defaults
from kubebench.cli.console import err, out, print_store_warnings, progress_bar
from kubebench.errors import InfrastructureError, UserError
from kubebench.scoring.base import Scorer
from kubebench.scoring.deferred import DeferredScoring, score_run
from kubebench.tasks.schema import Task


def register(app: typer.Typer) -> None:
    """Add `score` to the root app."""
    app.command("score")(score)


class TaskLookup(dict[str, Task]):
    """Tasks by id, loaded on first use (the loader is imported only when needed)."""

    def __missing__(self, task_id: str) -> Task:
        from kubebench.tasks.loader import get_task

        self[task_id] = get_task(task_id)
        return self[task_id]


def _scorer_names() -> str:
    from kubebench.scoring.registry import list_scorers

    return ", ".join(info.name for info in list_scorers())


def score_stored_run(
    run_dir: Path,
    scorer: Scorer,
    *,
    concurrency: int,
    task_for: Callable[[str], Task] | None = None,
    verb: str = "scoring",
) -> DeferredScoring:
    """Score every graded attempt of the run that `scorer` has not scored, with a
    progress bar; the run is locked meanwhile and the scorer closed after."""
    from kubebench.runner.store import RunStore

    store = RunStore.open(run_dir)
    store.lock()  # one writer per run: a second scorer process would score twice
    with store, progress_bar() as bar:
        bar_task = bar.add_task(f"{verb} with {scorer.name}", total=None)

        async def go() -> DeferredScoring:
            try:
                return await score_run(
                    store,
                    scorer,
                    task_for or TaskLookup().__getitem__,
                    concurrency=concurrency,
                    on_planned=lambda n: bar.update(bar_task, total=n),
                    on_scored=lambda _rec: bar.advance(bar_task),
                )
            finally:
                close = getattr(scorer, "aclose", None)
                if close is not None:
                    await close()

        result = asyncio.run(go())
    print_store_warnings(store)
    return result


def raise_for_failures(result: DeferredScoring, again: str) -> None:
    """Exit 3 (InfrastructureError) when attempts could not be scored, naming the first."""
    if result.failures:
        first_key, first_error = next(iter(result.failures.items()))
        raise InfrastructureError(
            f"{len(result.failures)} attempt(s) could not be scored by {result.scorer} "
            f"(first: {first_key}: {first_error})",
            hint=f"run `{again}` again to retry them",
        )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def print_score_summaries(run_dir: Path, keys: list[str]) -> None:
    """The current scores of the scorers `keys` (name@version) over the run's graded
    attempts: scored, unscored, mean and per-component means."""
    from kubebench.runner.store import RunStore
    from kubebench.scoring.summary import summarize_scores

    with RunStore.open(run_dir) as store:
        attempts = store.attempts()
        current = store.scores(attempts)
        graded = [a.attempt_key for a in attempts if a.graded]
    chosen = [current.get(k, {}).get(key) for k in graded for key in keys]
    for summary in summarize_scores(s for s in chosen if s is not None):
        table = Table(title=f"scorer {summary.key}", title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("scored / unscored", f"{summary.scored} / {summary.unscored}")
        if summary.mean is not None:
            table.add_row("mean", _fmt(summary.mean))
        for part, mean in summary.component_means.items():
            table.add_row(f"mean {part}", _fmt(mean, 2))
        out.print(table)


def score(
    run_dir: Path = typer.Argument(..., help="The run folder (runs/<run-id>/) to score."),
    scorer: list[str] = typer.Option(
        ...,
        "--scorer",
        "-s",
        help="A scorer spec: a name (bleu, kv_match, …, or one a plugin registers) or "
        "judge:provider:name. Repeatable.",
    ),
    concurrency: int = typer.Option(
        defaults.JUDGE_CONCURRENCY, "--concurrency", min=1, help="Attempts scored at once."
    ),
) -> None:
    """Score a stored run without regenerating; resumable, one score per scorer version.

    Attempts that already hold a score of the scorer's name and version are skipped;
    other scorers' scores are kept (the latest score of a name and version is the one
    reports show; older ones stay in scores.jsonl). The grader needs a cluster, so its
    scores come from `kubebench run`. Scorers are registered by name: built-ins and the
    entry points of the group `kubebench.scorers` (see docs/runner.md).
    """
    from kubebench.runner.store import RunStore
    from kubebench.scoring.registry import create_scorer

    RunStore.open(run_dir).close()  # a folder that is not a run fails before any scorer loads
    if not scorer:
        raise UserError("give at least one --scorer", hint=f"known scorers: {_scorer_names()}")
    keys = []
    for spec in scorer:
        made = create_scorer(spec)
        result = score_stored_run(run_dir, made, concurrency=concurrency)
        keys.append(result.scorer)
        err.print(
            f"{result.scorer}: scored {len(result.scored)} attempt(s) now; "
            f"{result.already_scored} already scored; {result.not_graded} not graded (skipped)",
            highlight=False,
        )
        raise_for_failures(result, f"kubebench score {run_dir} --scorer {spec}")
    print_score_summaries(run_dir, keys)
