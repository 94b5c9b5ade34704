"""`kubebench run` (evaluate a model on the benchmark) and `kubebench bench grading`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import TextColumn

from kubebench import defaults
from kubebench.cli import options
from kubebench.cli.bench import bench_app
from kubebench.cli.console import err, out, print_store_warnings, progress_bar

if TYPE_CHECKING:
    from kubebench.runner.records import AttemptRecord
    from kubebench.runner.store import RunStore


def register(app: typer.Typer) -> None:
    """Add `run` to the root app and `grading` to `kubebench bench`."""
    app.command("run")(run)
    bench_app.command("grading")(bench_grading)


def run(
    model: str = typer.Option(
        None, "--model", "-m", help="provider:name of the model (default: the embedded model)."
    ),
    split: str = typer.Option(None, "--split", help="Task split to run (default: test)."),
    kind: list[str] = typer.Option(None, "--kind", help="Only tasks of this kind (repeatable)."),
    tier: list[str] = typer.Option(None, "--tier", help="Only tasks of this tier (repeatable)."),
    task: list[str] = typer.Option(None, "--task", help="Only this task id (repeatable)."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N tasks (after filters)."),
    stratified: int = typer.Option(
        None, "--stratified", min=1, help="N tasks per kind × tier cell, seeded by --seed."
    ),
    samples: int = typer.Option(
        None, "--samples", min=1, help="Answers per task; pass@k is reported when > 1."
    ),
    temperature: float = typer.Option(
        None,
        "--temperature",
        min=0.0,
        help=f"Sampling temperature; 0 is greedy (default: {defaults.GENERATION_TEMPERATURE:g}).",
    ),
    top_p: float = typer.Option(
        None,
        "--top-p",
        min=0.0,
        max=1.0,
        help=f"Nucleus sampling (default: {defaults.GENERATION_TOP_P:g}).",
    ),
    seed: int = typer.Option(None, "--seed", help="Sampling seed (offset per sample)."),
    max_tokens: int = typer.Option(
        None,
        "--max-tokens",
        min=1,
        help=f"Longest answer in tokens (default: {defaults.GENERATION_MAX_TOKENS}).",
    ),
    shots: int = typer.Option(None, "--shots", min=0, help="Worked examples in the prompt."),
    judge: str = typer.Option(
        None, "--judge", help="provider:name of a judge model scoring each answer."
    ),
    scorer: list[str] = typer.Option(
        None,
        "--scorer",
        help="Another scorer of each answer, after the grader (repeatable; e.g. bleu, "
        "judge:provider:name, or one a plugin registers).",
    ),
    concurrency: int = typer.Option(
        defaults.GENERATION_CONCURRENCY, "--concurrency", min=1, help="Model calls in flight."
    ),
    grading_concurrency: int = typer.Option(
        defaults.GRADING_CONCURRENCY,
        "--grading-concurrency",
        min=1,
        help="Answers graded on the API server at once.",
    ),
    out_dir: Path = typer.Option(
        Path(defaults.RUNS_DIR), "--out", help="Folder that holds runs (runs/<run-id>/)."
    ),
    run_id: str = typer.Option(None, "--run-id", help="Name of the run folder."),
    resume: Path = typer.Option(
        None,
        "--resume",
        help="Continue this run folder: only unfinished attempts and infrastructure errors "
        "are done; the run's own settings apply.",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Ask the model afresh instead of reusing cached answers."
    ),
    kubeconfig: Path = options.KUBECONFIG,
    context: str = options.CONTEXT,
    allow_external_writes: bool = options.ALLOW_EXTERNAL_WRITES,
) -> None:
    """Evaluate a model: generate answers, grade each on a real API server, print scores.

    Results are written as they finish to <out>/<run-id>/; a run stopped for any reason
    continues with --resume <out>/<run-id>. Exits 3 when the cluster stops answering (the
    run stops within seconds) or when attempts are left ungraded by infrastructure errors.
    Off a terminal, progress is printed as plain lines every 15 s
    ($KUBEBENCH_PROGRESS_INTERVAL_S).
    """
    from kubebench.runner.benchmark import (
        ClusterOptions,
        PlanOptions,
        RunTally,
        execute_benchmark,
        refuse_plan_on_resume,
        run_request,
    )
    from kubebench.runner.launch import prepare_resume, prepare_run

    plan = PlanOptions(
        model=model,
        split=split,
        kinds=tuple(kind or ()),
        tiers=tuple(tier or ()),
        task_ids=tuple(task or ()),
        limit=limit,
        stratified=stratified,
        samples=samples,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        max_tokens=max_tokens,
        shots=shots,
        judge=judge,
        scorers=tuple(scorer or ()),
        run_id=run_id,
    )
    if resume is not None:
        refuse_plan_on_resume(plan)
        err.print(f"reading {resume} and loading its model", highlight=False, soft_wrap=True)
        prepared = prepare_resume(resume)
        assert prepared.store is not None
        print_store_warnings(prepared.store)
    else:
        request, warnings = run_request(plan, out_dir)
        for warning in warnings:
            err.print(f"[yellow]warning:[/] {warning}")
        # A local model takes a while to load: say so, or the output is silent meanwhile.
        shown = request.model_id.partition("?")[0]  # its options may hold what must not show
        err.print(f"loading the tasks and {shown}", highlight=False, soft_wrap=True)
        prepared = prepare_run(request)

    tally = RunTally.of(prepared.already_done)
    err.print(
        f"run {prepared.run_dir}: {prepared.meta.model_id}, {len(prepared.tasks)} tasks × "
        f"{prepared.meta.samples} samples, {len(prepared.planned)} attempts to do"
    )
    if not prepared.planned:
        err.print("every planned attempt is already recorded: nothing left to run")
        assert prepared.store is not None
        if _print_summary(prepared.store, prepared.run_dir):
            raise typer.Exit(3)
        return
    cluster = ClusterOptions(
        kubeconfig=kubeconfig,
        context=context,
        allow_external_writes=allow_external_writes,
        concurrency=concurrency,
        grading_concurrency=grading_concurrency,
        use_cache=not no_cache,
    )
    if cluster.starts_a_cluster():
        err.print(
            "no control plane is running: starting an embedded one for this run "
            "(`kubebench cluster up --detach` keeps one between runs)"
        )
    try:
        with (
            cluster.connect() as conn,
            progress_bar(TextColumn("{task.fields[pass_rate]}")) as bar,
        ):
            bar_task = bar.add_task(
                "attempts", total=prepared.total, completed=tally.done, pass_rate=tally.pass_text()
            )

            def on_record(rec: AttemptRecord) -> None:
                tally.add(rec)
                bar.update(bar_task, advance=1, pass_rate=tally.pass_text())

            store = execute_benchmark(prepared, conn, cluster, on_record)
    except KeyboardInterrupt:
        if (prepared.run_dir / "run.json").exists():
            err.print(
                f"finished attempts are saved: `kubebench run --resume {prepared.run_dir}`",
                soft_wrap=True,
            )
        raise
    for problem in prepared.cleanup_errors[:3]:
        err.print(f"[yellow]cleanup error:[/] {problem}", highlight=False)
    print_store_warnings(store)
    ungraded = _print_summary(store, prepared.run_dir)
    if prepared.seconds and prepared.planned:
        rate = len(prepared.planned) / prepared.seconds
        out.print(
            f"{len(prepared.planned)} attempts in {prepared.seconds:.1f} s ({rate:.1f}/s, "
            "cluster start-up excluded)"
        )
    out.print(
        f"results: {prepared.run_dir}  (`kubebench report {prepared.run_dir}`)", soft_wrap=True
    )
    if ungraded:
        raise typer.Exit(3)  # infrastructure errors exit 3, as everywhere


def _print_summary(store: RunStore, run_dir: Path) -> int:
    """Print the run's summary; return how many attempts infrastructure errors left
    ungraded."""
    from kubebench.report.summary import summarize_store
    from kubebench.report.tables import render_summary

    try:
        summary = summarize_store(store)
    finally:
        store.close()
    out.print(render_summary(summary))
    if summary.overall.infrastructure_errors:
        err.print(
            f"[yellow]{summary.overall.infrastructure_errors} attempts failed on infrastructure "
            f"errors[/] (not counted): `kubebench run --resume {run_dir}` retries them",
            soft_wrap=True,
        )
    return summary.overall.infrastructure_errors


def bench_grading(
    limit: int = typer.Option(
        None,
        "--limit",
        min=1,
        help="Grade N test tasks spread over every kind and tier (default: all).",
    ),
    baseline_limit: int = typer.Option(
        defaults.BENCH_BASELINE_LIMIT,
        "--baseline-limit",
        min=0,
        help="Tasks graded by the kubectl baseline (0 skips it).",
    ),
    concurrency: int = typer.Option(
        defaults.GRADING_CONCURRENCY, "--concurrency", min=1, help="Attempts graded at once."
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures to this file."),
) -> None:
    """Oracle answers through the full grading pipeline (dry-run, apply, checks, cleanup)
    on an embedded control plane, against a kubectl-per-task baseline (CloudEval-YAML's
    way) on the same control plane and tasks."""
    import shutil

    from kubebench.cluster.controlplane import ControlPlane
    from kubebench.runner.grading_bench import (
        render_grading_bench,
        run_grading_bench,
    )

    kubectl = shutil.which("kubectl")
    if kubectl is None and baseline_limit:
        err.print("kubectl not found on PATH: skipping the kubectl baseline")
    err.print("starting an embedded control plane for the benchmark")
    with ControlPlane() as plane, progress_bar() as bar:
        result = run_grading_bench(
            plane,
            limit=limit,
            baseline_limit=baseline_limit if kubectl else 0,
            concurrency=concurrency,
            kubectl=kubectl,
            progress=bar,
        )
    out.print(render_grading_bench(result))
    if json_out is not None:
        json_out.write_text(result.to_json())
        out.print(f"figures written to {json_out}")
