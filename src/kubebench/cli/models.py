"""`kubebench models list` and `kubebench bench generation`."""

from __future__ import annotations

import typer
from rich.table import Table

from kubebench import defaults
from kubebench.cli.bench import bench_app
from kubebench.cli.console import err, out, progress_bar

models_app = typer.Typer(
    rich_markup_mode=None, help="The model providers KubeBench can evaluate.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `models` to the root app and `generation` to `kubebench bench`."""
    app.add_typer(models_app, name="models")
    bench_app.command("generation")(bench_generation)


@models_app.command("list")
def list_models() -> None:
    """Show the registered providers, their model id syntax and how to configure each."""
    from kubebench.models.registry import list_providers

    for info in list_providers():
        out.rule(f"[bold]{info.name}[/]", align="left")
        if info.help is None:
            out.print(f"[red]cannot be loaded:[/] {info.load_error}", highlight=False)
            continue
        out.print(f"[bold]id[/]  {info.help.id_syntax}", highlight=False)
        out.print(info.help.summary, highlight=False)
        sections = (
            ("options (key=value pairs after ? in the id)", info.help.options),
            ("environment", info.help.environment),
        )
        for title, rows in sections:
            if not rows:
                continue
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="cyan", no_wrap=True)
            grid.add_column()
            for name, what in rows:
                grid.add_row(f"  {name}", what)
            out.print(f"[bold]{title}[/]")
            out.print(grid)
        if info.help.examples:
            out.print("[bold]examples[/]")
            for example in info.help.examples:
                out.print(f"  --model '{example}'", highlight=False, soft_wrap=True)
    out.print(f"\ndefault model: [bold]{defaults.DEFAULT_MODEL}[/]", highlight=False)


def bench_generation(
    prompts: int = typer.Option(
        defaults.BENCH_GENERATION_PROMPTS, "--prompts", min=1, help="Prompts (dev-split tasks)."
    ),
    max_tokens: int = typer.Option(
        defaults.BENCH_GENERATION_MAX_TOKENS, "--max-tokens", min=1, help="Tokens per answer."
    ),
    streams: str = typer.Option(
        ",".join(str(n) for n in defaults.BENCH_GENERATION_STREAMS),
        "--streams",
        help="Concurrent streams to time each decoder at, comma-separated.",
    ),
    decoders: str = typer.Option(
        "handwritten,transformers",
        "--decoders",
        help="Local decoders to time: handwritten (KubeBench's loop), transformers "
        "(its continuous batching).",
    ),
    llama_server: str = typer.Option(
        None,
        "--llama-server",
        help="Also time a llama.cpp llama-server at this URL (serving the same GGUF file).",
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", min=1, help="Cap the handwritten decoder's batch (default: streams)."
    ),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda."),
    dtype: str = typer.Option(
        "auto", help="auto (bfloat16 on CUDA, float32 on CPU) | float32 | float16 | bfloat16."
    ),
    threads: int = typer.Option(
        0, min=0, help="CPU threads for torch (0: torch's default, one per core)."
    ),
) -> None:
    """Tokens/s of local decoders on the embedded model, side by side, at 1 and 16 streams."""
    from kubebench.errors import UserError
    from kubebench.models.generation_bench import DECODERS, run_generation_bench, summary_lines

    if threads:
        import torch

        torch.set_num_threads(threads)
    if dtype not in ("auto", "float32", "float16", "bfloat16"):
        raise UserError(f"unknown --dtype {dtype!r}", hint="auto, float32, float16 or bfloat16")
    try:
        counts = sorted({int(n) for n in streams.split(",") if n.strip()})
    except ValueError:
        raise UserError(f"bad --streams {streams!r}", hint="e.g. --streams 1,16") from None
    if not counts or min(counts) < 1:
        raise UserError(f"bad --streams {streams!r}", hint="positive counts, e.g. 1,16")
    chosen = [d.strip() for d in decoders.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DECODERS[:2]]
    if unknown:
        raise UserError(
            f"unknown --decoders {','.join(unknown)}",
            hint="handwritten, transformers (llama-server: pass --llama-server URL)",
        )
    with err.status("loading the embedded model"):
        from kubebench.models.embedded import load_embedded_model

        load_embedded_model(dtype=dtype, device=device)  # cached: the bench reuses it
    timed = [*chosen, *(["llama-server"] if llama_server else [])]
    with progress_bar() as bar:
        rows = {
            label: bar.add_task(label, total=prompts, start=False)
            for label in (f"{d} ×{n}" for d in timed for n in counts)
        }

        def advance(label: str, done: int) -> None:
            bar.start_task(rows[label])  # each run's clock starts with its first answer
            bar.update(rows[label], completed=done)

        result = run_generation_bench(
            prompts=prompts,
            max_tokens=max_tokens,
            streams=counts,
            decoders=chosen,
            llama_server=llama_server,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
            progress=advance,
        )
    table = Table(title=f"kubebench bench generation ({result.device}: {result.hardware})")
    for name in ("decoder", "streams", "tokens", "wall (s)", "tokens/s", "identical", "load avg"):
        table.add_column(name, justify="left" if name == "decoder" else "right")
    for run in result.runs:
        if run.error:
            table.add_row(run.decoder, str(run.streams), "failed", run.error, "", "", "")
            continue
        table.add_row(
            run.decoder,
            str(run.streams),
            str(run.completion_tokens),
            f"{run.wall_s:.1f}",
            f"{run.tokens_per_s:.1f}",
            f"{result.identical_answers(run)}/{result.prompts}",
            f"{run.load_avg[0]:.2f} → {run.load_avg[1]:.2f}",
        )
    out.print(table)
    out.print(summary_lines(result)[0], highlight=False)
