"""`kubebench serve`: the OpenAI-compatible API, /v1/validate, the JSON API and the UI."""

from __future__ import annotations

from pathlib import Path

import typer

from kubebench import defaults
from kubebench.cli.console import err


def register(app: typer.Typer) -> None:
    """Add `serve` to the root app."""
    app.command("serve")(serve)


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
