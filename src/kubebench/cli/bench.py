"""`kubebench bench ...`: benchmark commands whose figures go into reports and notes.

Other CLI modules add their own benchmarks to `bench_app` in their `register`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from kubebench import defaults
from kubebench.cli.console import err, out, progress_bar

bench_app = typer.Typer(
    rich_markup_mode=None, help="Measure KubeBench's own speed and footprint.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("cluster")
def bench_cluster(
    starts: int = typer.Option(
        defaults.BENCH_CLUSTER_STARTS, min=1, help="Cold starts to time (cached binaries)."
    ),
    requests: int = typer.Option(
        defaults.BENCH_CLUSTER_REQUESTS, min=10, help="Requests per latency measurement."
    ),
    compare_clients: bool = typer.Option(
        True, help="Also time dry-run create through the official `kubernetes` client."
    ),
) -> None:
    """Cold start, peak RSS of the three processes, and p50/p95 API latency."""
    from kubebench.cluster.bench import run_cluster_bench

    if compare_clients:
        try:
            import kubernetes  # noqa: F401
        except ImportError:
            err.print("`kubernetes` is not installed; skipping the client comparison")
            compare_clients = False
    with err.status(f"{starts} cold starts, then {requests} requests per measurement"):
        result = run_cluster_bench(starts, requests, compare_clients)
    table = Table(title="kubebench bench cluster")
    table.add_column("measure")
    table.add_column("value", justify="right")
    starts_txt = ", ".join(f"{s:.2f}" for s in result.startup_s)
    table.add_row("cold start, cached binaries (s)", starts_txt)
    for name, mib in result.peak_rss_mib.items():
        table.add_row(f"peak RSS {name} (MiB)", f"{mib:.0f}")
    table.add_row("peak RSS total (MiB)", f"{sum(result.peak_rss_mib.values()):.0f}")
    for stats in result.latencies:
        table.add_row(f"{stats.name} p50 / p95 (ms)", f"{stats.p50:.2f} / {stats.p95:.2f}")
    out.print(table)


@bench_app.command("metrics")
def bench_metrics(
    limit: int = typer.Option(
        None, "--limit", min=1, help="Use N test tasks spread over every kind and tier."
    ),
    concurrency: int = typer.Option(
        defaults.GRADING_CONCURRENCY, "--concurrency", min=1, help="Answers graded at once."
    ),
    plot: Path = typer.Option(
        None, "--plot", help="Write the score distributions here (.svg or .png)."
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures to this file."),
    markdown_out: Path = typer.Option(
        None, "--markdown", help="Also write the table as Markdown (for the README)."
    ),
) -> None:
    """Text metrics vs the grader on answers known to be right or wrong.

    Every equivalent rewrite (must pass) and mutation (must fail) of each test task's
    reference is graded on an embedded control plane and scored by BLEU, edit distance,
    exact match, key-value match and key-value wildcard match: each metric's ROC AUC,
    the share of correct answers it scores below the median wrong one, and the grader's
    accuracy on the same answers.
    """
    from kubebench.cluster.controlplane import ControlPlane
    from kubebench.runner.grading_bench import spread
    from kubebench.runner.metrics_bench import metrics_table_markdown, run_metrics_bench
    from kubebench.tasks.loader import load_tasks

    tasks = spread(load_tasks(defaults.DEFAULT_TASK_SPLIT), limit)
    err.print(f"starting an embedded control plane; {len(tasks)} test tasks")
    with ControlPlane() as plane, progress_bar() as bar:
        task_bar = bar.add_task("rewrites and mutations graded", total=None)
        result = run_metrics_bench(
            plane.connection,
            tasks,
            concurrency=concurrency,
            on_total=lambda n: bar.update(task_bar, total=n),
            on_done=lambda: bar.advance(task_bar),
        )
    table = Table(title="kubebench bench metrics", title_justify="left")
    headers = (
        "scorer",
        "ROC AUC",
        "correct below median wrong",
        "… at or below",
        "mean correct",
        "mean wrong",
    )
    for name in headers:
        table.add_column(name, justify="left" if name == "scorer" else "right")
    for row in result.rows:
        table.add_row(
            row.name,
            _fmt(row.auc),
            _fmt(row.correct_below_median_incorrect, pct=True),
            _fmt(row.correct_at_or_below_median_incorrect, pct=True),
            _fmt(row.mean_correct),
            _fmt(row.mean_incorrect),
        )
    table.caption = (
        f"{result.rewrites} rewrites, {result.mutations} mutations of {result.tasks} tasks in "
        f"{result.seconds:.0f} s; grader accuracy {100 * result.grader_accuracy:.1f} %, "
        f"{result.infrastructure_errors} infrastructure errors left out"
    )
    out.print(table)
    if markdown_out is not None:
        markdown_out.write_text(metrics_table_markdown(result))
        out.print(f"table written to {markdown_out}")
    if json_out is not None:
        json_out.write_text(result.to_json())
        out.print(f"figures written to {json_out}")
    if plot is not None:
        from kubebench.report.plots import metrics_bench_figure

        metrics_bench_figure(
            result.scores, result.rewrites, result.mutations, plot, grader=result.grader_scores
        )
        out.print(f"plot written to {plot}")


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f} %" if pct else f"{value:.3f}"
