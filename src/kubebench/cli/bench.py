"""`kubebench bench ...`: benchmark commands whose figures go into reports and notes.

Other CLI modules add their own benchmarks to `bench_app` in their `register`.
"""

from __future__ import annotations

import typer
from rich.table import Table

from kubebench.cli.console import err, out

bench_app = typer.Typer(help="Measure KubeBench's own speed and footprint.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("cluster")
def bench_cluster(
    starts: int = typer.Option(3, min=1, help="Cold starts to time (cached binaries)."),
    requests: int = typer.Option(300, min=10, help="Requests per latency measurement."),
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
