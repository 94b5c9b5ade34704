"""Benchmark in the loop: grade chosen checkpoints on dev-split tasks, pick the best.

Each checkpoint (and the base model) is a full `kubebench run` on the same dev tasks,
through the runner and the real grader, written under `RUN_DIR/dev-runs/`. The best
checkpoint is the one with the highest dev success (ties: the lower validation loss,
then the earlier step). The test split is refused here: selecting on it would leak it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.cluster.kubeconfig import Connection
from kubebench.errors import UserError
from kubebench.train.base_model import resolve_base_model
from kubebench.train.config import load_config
from kubebench.train.run_dir import RunDir, write_json_atomic

SPEC_RE = re.compile(r"^dev(?::(?:stratified[ =]?)?(\d+))?$")


@dataclass(frozen=True)
class DevTasks:
    stratified: int | None  # tasks per kind × tier cell; None = the whole dev split


def parse_eval_tasks(spec: str) -> DevTasks:
    """`dev`, `dev:stratified 2` (or `dev:stratified=2`, `dev:2`)."""
    text = " ".join(spec.strip().split())
    if text.startswith("test"):
        raise UserError(
            "--eval-tasks never uses the test split: choosing a checkpoint on it would "
            "leak the test set into the model",
            hint="use dev or dev:stratified N",
        )
    match = SPEC_RE.match(text)
    if not match:
        raise UserError(f"--eval-tasks {spec!r}: use dev or dev:stratified N")
    n = int(match.group(1)) if match.group(1) else None
    if n is not None and n < 1:
        raise UserError("--eval-tasks dev:stratified N needs N >= 1")
    return DevTasks(stratified=n)


def checkpoint_model_id(run: RunDir, step: int | None) -> str:
    """The `--model` id of a checkpoint (None: the base model)."""
    config = load_config(run.config)
    if step is None:
        return config.base_model
    folder = run.checkpoint_steps()[step]
    if config.method == "full":
        return f"hf:{folder}"
    return resolve_base_model(config.base_model).adapter_model_id(folder)


def choose_steps(run: RunDir, which: list[str]) -> list[int]:
    from kubebench.train.export import pick_checkpoint

    steps: list[int] = []
    for name in which:
        step, _ = pick_checkpoint(run, name)
        if step not in steps:
            steps.append(step)
    return steps


def evaluate_checkpoints(
    run_dir: Path,
    tasks: DevTasks,
    conn: Connection,
    *,
    checkpoints: list[str],
    include_base: bool = True,
    on_record: Callable[[str, Any], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Grade the base and each chosen checkpoint on the same dev tasks; write
    `RUN_DIR/dev_eval.json` and return it."""
    from kubebench.models.base import GenerationConfig
    from kubebench.models.local_loading import release_local_models
    from kubebench.report.stats import wilson
    from kubebench.runner.launch import RunRequest, prepare_run, run_sync
    from kubebench.tasks.selection import TaskSelection
    from kubebench.train.analysis import analyze_run

    run = RunDir(run_dir)
    trained_on = run.read_record().get("config", {}).get("extra_tasks", [])
    if "dev" in trained_on:
        raise UserError(
            f"{run_dir} trained on the dev split's tasks, so dev success cannot choose "
            "its checkpoint fairly",
            hint="pick by validation loss (train analyze) and grade once on the test split",
        )
    steps = choose_steps(run, checkpoints)
    curve = analyze_run(run.root).eval_loss
    eval_loss = dict(zip(curve.steps, curve.values, strict=True))
    labels: list[tuple[str, int | None]] = [("base", None)] if include_base else []
    labels += [(f"checkpoint-{s}", s) for s in steps]
    results = []
    for label, step in labels:
        model_id = checkpoint_model_id(run, step)
        request = RunRequest(
            model_id=model_id,
            split="dev",
            selection=TaskSelection(stratified=tasks.stratified, seed=defaults.STRATIFIED_SEED),
            generation=GenerationConfig(),  # greedy, as `kubebench run` grades
            out_dir=run.root / "dev-runs",
            run_id=label,
        )
        prepared = prepare_run(request)
        if on_start:
            on_start(label, prepared.total)
        options: dict[str, Any] = {}
        if on_record is not None:
            options["on_record"] = lambda rec, label=label: on_record(label, rec)
        store = run_sync(prepared, conn, **options)
        # Each checkpoint is a model of its own: kept loaded, the process would hold
        # every one graded so far.
        release_local_models()
        records = store.attempts()
        graded = [r for r in records if r.graded]
        rate = wilson(sum(r.success for r in graded), len(graded))
        store.close()
        results.append(
            {
                "label": label,
                "step": step,
                "model_id": model_id,
                "run_dir": str(prepared.run_dir),
                "attempts": len(graded),
                "ungraded": len(records) - len(graded),
                "success": rate.value or 0.0,
                "ci_low": rate.low or 0.0,
                "ci_high": rate.high or 0.0,
                "eval_loss": eval_loss.get(step) if step is not None else None,
            }
        )
    tuned = [r for r in results if r["step"] is not None]
    best = max(
        tuned,
        key=lambda r: (r["success"], -(r["eval_loss"] or float("inf")), -r["step"]),
        default=None,
    )
    data = {
        "split": "dev",
        "stratified": tasks.stratified,
        "results": results,
        "best": best["label"] if best else None,
        "selection": "highest dev success; ties: lower validation loss, then earlier step",
    }
    write_json_atomic(run.root / "dev_eval.json", data)
    return data
