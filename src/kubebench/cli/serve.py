"""`kubebench serve`: the OpenAI-compatible API, /v1/validate, the JSON API and the UI."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from kubebench import defaults
from kubebench.cli.bench import bench_app
from kubebench.cli.console import err, out


def register(app: typer.Typer) -> None:
    """Add `serve` to the root app and `serve` to `kubebench bench`."""
    app.command("serve")(serve)
    bench_app.command("serve")(bench_serve)


def serve(
    model: list[str] = typer.Option(
        None,
        "--model",
        "-m",
        help="provider:name of a model to serve (repeatable; default: the embedded model). "
        "openai: models are proxied to their endpoint.",
    ),
    runs: Path = typer.Option(
        Path(defaults.RUNS_DIR), "--runs", help="Folder of runs the JSON API and UI show."
    ),
    host: str = typer.Option(
        defaults.SERVE_HOST, "--host", help="Address to listen on (loopback by default)."
    ),
    port: int = typer.Option(defaults.SERVE_PORT, "--port", min=0, max=65535),
    api_key: str = typer.Option(
        None,
        "--api-key",
        envvar="KUBEBENCH_SERVE_API_KEY",
        help="Require `Authorization: Bearer KEY` on every route but /health and the UI's "
        "files (needed for a non-loopback --host).",
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Accept a non-loopback --host without --api-key."
    ),
    register_paths: list[Path] = typer.Option(
        None,
        "--register",
        help="A file or folder (adapter, merged model, dataset) to offer for download "
        "(repeatable; a folder is served as .tar.gz).",
    ),
    rate_limit: float = typer.Option(
        defaults.SERVE_RATE_PER_S,
        "--rate-limit",
        min=0.0,
        help="Requests per second per client IP (0: no limit).",
    ),
    rate_burst: int = typer.Option(
        defaults.SERVE_RATE_BURST, "--rate-burst", min=1, help="Requests a client may burst."
    ),
    max_generations: int = typer.Option(
        defaults.SERVE_MAX_GENERATIONS,
        "--max-generations",
        min=1,
        help="Chat completions generating at once; more wait, and past --max-queued get 503.",
    ),
    max_queued: int = typer.Option(defaults.SERVE_MAX_QUEUED, "--max-queued", min=0),
    validate: bool = typer.Option(
        True,
        "--validate/--no-validate",
        help="Serve /v1/validate on a control plane KubeBench starts (or the one "
        "`kubebench cluster up --detach` runs).",
    ),
) -> None:
    """Serve models over an OpenAI-compatible API, validation, runs and downloads.

    Binds 127.0.0.1 by default. Models load in the background: /health answers 503
    until they are ready. Validation never writes and only uses a control plane
    KubeBench started.
    """
    import uvicorn

    from kubebench.cluster.session import cluster_connection, running_connection
    from kubebench.serve.app import create_app
    from kubebench.serve.settings import ServeSettings

    settings = ServeSettings(
        models=list(model or [defaults.DEFAULT_MODEL]),
        runs_dir=runs,
        host=host,
        port=port,
        api_key=api_key,
        insecure=insecure,
        register=list(register_paths or []),
        rate_per_s=rate_limit,
        rate_burst=rate_burst,
        max_generations=max_generations,
        max_queued=max_queued,
    )
    settings.check()  # before a control plane starts for nothing

    def run() -> None:
        app = create_app(settings)
        for item in app.state.serve.downloads.items.values():
            err.print(f"download {item.id}: {item.name} ({item.size} bytes, sha256 {item.sha256})")
        err.print(f"serving on http://{host}:{port} (models: {', '.join(settings.models)})")
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)

    if not validate:
        run()
        return
    if running_connection() is None:
        err.print("starting an embedded control plane for /v1/validate (--no-validate skips it)")
    # Started here, in the main thread: its children die with the thread that forked them.
    with cluster_connection() as conn:
        settings.connection = conn
        run()


def _fmt(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def bench_serve(
    model: str = typer.Option(defaults.DEFAULT_MODEL, "--model", "-m", help="Model to serve."),
    concurrency: list[int] = typer.Option(
        list(defaults.BENCH_SERVE_CONCURRENCY),
        "--concurrency",
        "-c",
        min=1,
        help="Concurrent streaming chats per measurement (repeatable).",
    ),
    max_tokens: int = typer.Option(
        defaults.BENCH_SERVE_MAX_TOKENS, "--max-tokens", min=1, help="Tokens per chat."
    ),
    validate_requests: int = typer.Option(
        defaults.BENCH_SERVE_VALIDATE_REQUESTS,
        "--validate-requests",
        min=0,
        help="/v1/validate requests timed (0 skips it and the control plane).",
    ),
    busy_streams: int = typer.Option(
        defaults.BENCH_SERVE_BUSY_STREAMS,
        "--busy-streams",
        min=0,
        help="Streams running while a new request's TTFT is timed.",
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures to this file."),
) -> None:
    """Streaming chats at 1, 8 and 32 at once through `kubebench serve` on loopback (time
    to first token, aggregate tokens/s against one stream, errors), a new request's
    TTFT while 8 streams run against idle, and /v1/validate requests/s."""
    from contextlib import nullcontext

    from kubebench.cluster.session import cluster_connection
    from kubebench.serve.serve_bench import run_serve_bench

    cluster = cluster_connection() if validate_requests else nullcontext(None)
    with cluster as conn, err.status("benchmarking kubebench serve"):
        result = run_serve_bench(
            model,
            conn,
            concurrency=tuple(concurrency),
            max_tokens=max_tokens,
            validate_requests=validate_requests,
            busy_streams=busy_streams,
        )
    table = Table(title=f"kubebench bench serve: {model}, {max_tokens} tokens per chat")
    for column in (
        "streams",
        "TTFT p50 (ms)",
        "TTFT p95 (ms)",
        "tokens/s",
        "× one stream",
        "errors",
    ):
        table.add_column(column, justify="right")
    for lv in result.levels:
        table.add_row(
            str(lv.concurrency),
            _fmt(lv.ttft_p50_s, 1000),
            _fmt(lv.ttft_p95_s, 1000),
            f"{lv.tokens_per_s:.1f}",
            _fmt(lv.speedup_vs_single, digits=2),
            str(lv.errors),
        )
    out.print(table)
    out.print(
        f"new request's TTFT: idle {_fmt(result.idle_ttft_s, 1000)} ms, with "
        f"{result.busy_streams} streams running {_fmt(result.busy_ttft_s, 1000)} ms "
        f"({_fmt(result.busy_ratio, digits=2)}×; medians of {result.ttft_probes} requests; "
        f"{result.busy_streams_at_end} of {result.busy_streams} streams still running at the end)"
    )
    if result.validate_requests:
        out.print(
            f"/v1/validate: {_fmt(result.validate_per_s, digits=1)} requests/s, p50 "
            f"{_fmt(result.validate_p50_s, 1000, 1)} ms, {result.validate_errors} errors "
            f"({result.validate_requests} requests, 8 at a time)"
        )
    if json_out is not None:
        json_out.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        err.print(f"wrote {json_out}")
