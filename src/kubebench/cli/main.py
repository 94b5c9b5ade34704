"""Entry point of the `kubebench` command."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from kubebench import __version__
from kubebench.errors import InfrastructureError, KubeBenchError

# Each module adds its commands to `app` in `register(app)`; the order is the help order.
COMMAND_MODULES = (
    "run",
    "grade",
    "report",
    "compare",
    "leaderboard",
    "tasks",
    "models",
    "score",
    "judge",
    "cluster",
    "bench",
    "data",
    "train",
    "serve",
)

app = typer.Typer(
    rich_markup_mode=None,
    name="kubebench",
    help=(
        "Measure how well LLMs write Kubernetes configuration, graded on a real API server.\n\n"
        "Quick start: `kubebench run` evaluates the embedded default model on the test split."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubebench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """KubeBench command line."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"kubebench.cli.{_name}").register(app)


def main() -> None:
    """Run the CLI; KubeBench errors become one line on stderr and a non-zero exit."""
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except KubeBenchError as exc:
        label = "infrastructure error" if isinstance(exc, InfrastructureError) else "error"
        err.print(f"[bold red]{label}:[/] {exc.one_line()}", highlight=False, soft_wrap=True)
        sys.exit(3 if isinstance(exc, InfrastructureError) else 2)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("[yellow]aborted[/]")
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        # Newer typer raises its vendored click's exceptions (typer._click), not click's.
        usage_error = isinstance(exc, click.ClickException) or (
            type(exc).__module__.startswith("typer._click") and hasattr(exc, "show")
        )
        if usage_error:
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise


if __name__ == "__main__":
    main()
