"""`kubebench train CONFIG.yaml [KEY=VALUE ...]`, `kubebench train analyze RUN_DIR` and
`kubebench train export RUN_DIR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from kubebench import defaults
from kubebench.cli import options
from kubebench.cli.console import err, out, progress_bar
from kubebench.errors import UserError

DEFAULT_COMMAND = "start"


class _DefaultToStart(TyperGroup):
    """`kubebench train CONFIG.yaml ...` means `kubebench train start CONFIG.yaml ...`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is not None and first not in self.commands and first not in ("--help", "-h"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


train_app = typer.Typer(
    cls=_DefaultToStart,
    help="Fine-tune a local model on a `kubebench data build` dataset (TRL SFT + PEFT "
    "LoRA/QLoRA), analyse its loss curves, export adapter and merged model.\n\n"
    "Usage: kubebench train CONFIG.yaml [KEY=VALUE ...] [--out DIR] | "
    "kubebench train --resume RUN_DIR | kubebench train analyze RUN_DIR.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")


class _StepBar:
    """The rich bar on a terminal, plain lines otherwise, fed by the trainer's steps."""

    def __init__(self) -> None:
        self.bar = progress_bar(console=err)
        self.task: Any = None

    def __enter__(self) -> _StepBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, step: int, total: int, fields: dict[str, float]) -> None:
        text = "  ".join(f"{k} {v:.4f}" for k, v in fields.items())
        if self.task is None:
            self.task = self.bar.add_task("steps", total=total or None, metrics=text)
        self.bar.update(self.task, completed=step, total=total or None, metrics=text)


def _default_run_dir(config: Any) -> Path:
    from kubebench.runner.launch import default_run_id

    root = Path(defaults.TRAIN_RUNS_DIR)
    return root / default_run_id(f"{config.base_model}-{config.method}", root)


@train_app.command(DEFAULT_COMMAND)
def start(
    config_path: Path | None = typer.Argument(
        None, metavar="CONFIG.yaml", help="Training config (see docs/train.md)."
    ),
    overrides: list[str] | None = typer.Argument(
        None, metavar="[KEY=VALUE ...]", help="Settings over the file's: max_steps=200 lora.r=32."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", help=f"Run folder (default {defaults.TRAIN_RUNS_DIR}/<time>-<model>)."
    ),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue a killed run from its last checkpoint."
    ),
    analyze: bool = typer.Option(True, help="Analyse the loss curves when training ends."),
    eval_tasks: str | None = typer.Option(
        None,
        "--eval-tasks",
        help="After training, grade checkpoints on dev tasks: dev | 'dev:stratified N'.",
    ),
    eval_checkpoints: str = typer.Option(
        "best,last", help="Checkpoints --eval-tasks grades: best, last or steps, comma-separated."
    ),
    kubeconfig: Path | None = options.KUBECONFIG,
    context: str | None = options.CONTEXT,
    allow_external_writes: bool = options.ALLOW_EXTERNAL_WRITES,
) -> None:
    """Fine-tune: `kubebench train CONFIG.yaml [KEY=VALUE ...]` (the default command).

    Saves config, versions, git revision and the data card hash in the run folder, a
    checkpoint every save_steps (resumable with --resume), then the adapter, the merged
    model, a model card and the loss-curve analysis.
    """
    from kubebench.train.config import load_config
    from kubebench.train.dev_eval import parse_eval_tasks
    from kubebench.train.fit import train

    dev_tasks = parse_eval_tasks(eval_tasks) if eval_tasks else None  # bad spec: fail first
    if resume is not None:
        from kubebench.train.run_dir import RunDir

        saved = RunDir(resume).config
        if not saved.is_file():
            raise UserError(f"--resume: {resume} holds no training run (no config.yaml)")
        config = load_config(config_path or saved, overrides)
        run_dir = resume
    elif config_path is None:
        raise UserError("kubebench train needs CONFIG.yaml", hint="or --resume RUN_DIR")
    else:
        config = load_config(config_path, overrides)
        run_dir = out_dir or _default_run_dir(config)

    def say(message: str) -> None:
        err.print(f"[dim]{message}[/]", highlight=False)

    with _StepBar() as bar:
        result = train(config, run_dir, resume=resume is not None, progress=bar, status=say)
    out.print(
        f"trained {result.global_step} steps in {result.seconds:.0f} s"
        + (f" (resumed from {result.resumed_from})" if result.resumed_from else "")
        + (f", {result.tokens_per_s:.0f} tokens/s" if result.tokens_per_s else "")
        + f", peak RSS {result.peak_rss_mib:.0f} MiB"
        + (f", peak CUDA {result.peak_cuda_mib:.0f} MiB" if result.peak_cuda_mib else ""),
        highlight=False,
    )
    record = json.loads((result.run_dir.record).read_text(encoding="utf-8"))
    for key, value in record.get("exported", {}).items():
        out.print(f"{key}: {value}", highlight=False, soft_wrap=True)
    if analyze:
        from kubebench.train.analysis_output import write_analysis

        analysis = write_analysis(result.run_dir.root)
        from kubebench.train.analysis import render_text

        out.print(render_text(analysis), highlight=False, soft_wrap=True)
    if dev_tasks is not None:
        _dev_eval(
            result.run_dir.root,
            dev_tasks,
            eval_checkpoints,
            kubeconfig,
            context,
            allow_external_writes,
        )


def _dev_eval(
    run_dir: Path,
    tasks: Any,
    checkpoints: str,
    kubeconfig: Path | None,
    context: str | None,
    allow_external_writes: bool,
) -> None:
    from kubebench.cluster.session import cluster_connection
    from kubebench.train.dev_eval import evaluate_checkpoints
    from kubebench.train.model_card import write_model_card
    from kubebench.train.run_dir import RunDir

    chosen = [c.strip() for c in checkpoints.split(",") if c.strip()]
    with (
        cluster_connection(
            kubeconfig, context, allow_external_writes=allow_external_writes
        ) as conn,
        progress_bar(console=err) as bar,
    ):
        rows: dict[str, Any] = {}

        def on_start(label: str, total: int) -> None:
            rows[label] = bar.add_task(f"dev {label}", total=total)

        def on_record(label: str, record: Any) -> None:
            bar.update(rows[label], advance=1)

        data = evaluate_checkpoints(
            run_dir, tasks, conn, checkpoints=chosen, on_start=on_start, on_record=on_record
        )
    for row in data["results"]:
        out.print(
            f"{row['label']}: dev success {row['success'] * 100:.1f} % of {row['attempts']} "
            f"(95 % CI {row['ci_low'] * 100:.1f}–{row['ci_high'] * 100:.1f} %)",
            highlight=False,
        )
    out.print(f"best by dev success: {data['best']}", highlight=False)
    write_model_card(RunDir(run_dir))


@train_app.command("eval")
def eval_command(
    run_dir: Path = typer.Argument(..., help="A kubebench train run folder."),
    eval_tasks: str = typer.Option(
        "dev:stratified 1", "--eval-tasks", help="dev | 'dev:stratified N' (never test)."
    ),
    checkpoints: str = typer.Option("best,last", help="best, last or steps, comma-separated."),
    kubeconfig: Path | None = options.KUBECONFIG,
    context: str | None = options.CONTEXT,
    allow_external_writes: bool = options.ALLOW_EXTERNAL_WRITES,
) -> None:
    """Grade the base model and checkpoints on dev tasks; pick the best by dev success.

    Runs through the runner and the real grader into RUN_DIR/dev-runs/; the summary goes
    to RUN_DIR/dev_eval.json. The test split is never used here.
    """
    from kubebench.train.dev_eval import parse_eval_tasks

    _dev_eval(
        run_dir,
        parse_eval_tasks(eval_tasks),
        checkpoints,
        kubeconfig,
        context,
        allow_external_writes,
    )


@train_app.command("analyze")
def analyze_command(
    run_dir: Path = typer.Argument(..., help="A kubebench train run folder."),
    fmt: str = typer.Option("text", "--format", help="text | json"),
    out_dir: Path | None = typer.Option(None, "--out", help="Where to write (RUN_DIR/analysis)."),
    spike_sigma: float = typer.Option(defaults.TRAIN_SPIKE_SIGMA, help="Spike threshold in σ."),
    overfit_evals: int = typer.Option(
        defaults.TRAIN_OVERFIT_EVALS, help="Rising validation losses in a row that flag overfit."
    ),
) -> None:
    """Plot the loss curves, flag problems, name the best checkpoint.

    Training and validation loss, learning rate and gradient norm as PNG and SVG; flags
    divergence (NaN/inf, spikes), overfitting, plateau and a too-high learning rate.
    """
    from kubebench.train.analysis import Thresholds, render_text
    from kubebench.train.analysis_output import write_analysis

    if fmt not in ("text", "json"):
        raise UserError(f"--format {fmt!r}: use text or json")
    if spike_sigma <= 0 or overfit_evals < 1:
        raise UserError("--spike-sigma must be > 0 and --overfit-evals at least 1")
    thresholds = Thresholds(spike_sigma=spike_sigma, overfit_evals=overfit_evals)
    analysis = write_analysis(run_dir, thresholds, out_dir)
    if fmt == "json":
        typer.echo(json.dumps(analysis.to_json(), indent=2))
    else:
        out.print(render_text(analysis), highlight=False, soft_wrap=True)


@train_app.command("export")
def export_command(
    run_dir: Path = typer.Argument(..., help="A kubebench train run folder."),
    checkpoint: str = typer.Option(
        "best", help="best (lowest validation loss) | last | a step number."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder (RUN_DIR/export-<step>)."),
    merged: bool = typer.Option(True, help="Also write the merged model."),
) -> None:
    """Export one checkpoint's adapter (and merged model) with a model card."""
    from kubebench.train.export import export_checkpoint

    written = export_checkpoint(run_dir, checkpoint, out_dir, merged=merged)
    for name, path in written.items():
        out.print(f"{name}: {path}", highlight=False, soft_wrap=True)
