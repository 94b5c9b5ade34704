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
    batch_size: int = typer.Option(
        defaults.BENCH_GENERATION_BATCH_SIZE, "--batch-size", min=1, help="Largest batch."
    ),
    max_tokens: int = typer.Option(
        defaults.BENCH_GENERATION_MAX_TOKENS, "--max-tokens", min=1, help="Tokens per answer."
    ),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda."),
    dtype: str = typer.Option(
        "auto", help="auto (bfloat16 on CUDA, float32 on CPU) | float32 | float16 | bfloat16."
    ),
    threads: int = typer.Option(
        0, min=0, help="CPU threads for torch (0: torch's default, one per core)."
    ),
) -> None:
    """Tokens/s of the hf provider on the embedded model: batched vs one prompt at a time."""
    from kubebench.errors import UserError
    from kubebench.models.generation_bench import run_generation_bench

    if threads:
        import torch

        torch.set_num_threads(threads)
    if dtype not in ("auto", "float32", "float16", "bfloat16"):
        raise UserError(f"unknown --dtype {dtype!r}", hint="auto, float32, float16 or bfloat16")
    with err.status("loading the embedded model"):
        from kubebench.models.embedded import load_embedded_model

        load_embedded_model(dtype=dtype, device=device)  # cached: the bench reuses it
    with progress_bar() as bar:
        rows = {
            mode: bar.add_task(mode, total=prompts, start=False)
            for mode in ("one at a time", "batched")
        }

        def advance(mode: str, done: int) -> None:
            bar.start_task(rows[mode])  # the clock of each mode starts with its first answer
            bar.update(rows[mode], completed=done)

        result = run_generation_bench(
            prompts=prompts,
            batch_size=batch_size,
            max_tokens=max_tokens,
            device=device,
            dtype=dtype,
            progress=advance,
        )
    table = Table(title=f"kubebench bench generation ({result.device}: {result.hardware})")
    table.add_column("measure")
    table.add_column("one at a time", justify="right")
    table.add_column("batched", justify="right")
    seq, bat = result.sequential, result.batched
    table.add_row("prompts", str(result.prompts), str(result.prompts))
    table.add_row("largest batch", str(max(seq.batch_sizes)), str(max(bat.batch_sizes)))
    table.add_row("generated tokens", str(seq.completion_tokens), str(bat.completion_tokens))
    table.add_row("wall time (s)", f"{seq.wall_s:.2f}", f"{bat.wall_s:.2f}")
    table.add_row("tokens/s", f"{seq.tokens_per_s:.1f}", f"{bat.tokens_per_s:.1f}")
    out.print(table)
    out.print(
        f"batched / one at a time: [bold]{result.speedup:.2f}x[/] · identical answers "
        f"{result.identical_answers}/{result.prompts} · model load {result.load_s:.1f}s "
        f"({result.model.get('dtype')}) · max tokens {result.max_tokens}"
    )
