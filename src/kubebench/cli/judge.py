"""`kubebench judge RUN_DIR` and `kubebench judge calibrate`: the LLM-as-judge commands.

`kubebench judge RUN_DIR --judge X` is `kubebench score RUN_DIR --scorer judge:X` with
the judge's own options and summary.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from kubebench import defaults
from kubebench.cli.console import out, progress_bar
from kubebench.cli.score import TaskLookup, raise_for_failures, score_stored_run
from kubebench.errors import UserError
from kubebench.judge.api import JudgePrice, judge_generation_config
from kubebench.judge.calibrate import (
    SHIPPED_LABELS,
    CalibrationItem,
    CalibrationReport,
    compute_calibration,
    judge_labelled,
    load_labels,
    resolve_labels,
)
from kubebench.judge.rubric import CRITERIA, RUBRIC_VERSION
from kubebench.judge.schema import Judgement
from kubebench.judge.score import OVERALL_SCORE_VERSION
from kubebench.models.base import ModelProvider
from kubebench.runner.store import RunStore
from kubebench.scoring.base import score_key
from kubebench.scoring.judge import JudgeScorer, judge_score_name, judgements_by_attempt
from kubebench.scoring.summary import summarize_scores

# The embedded default model, unless the models room names another.
DEFAULT_JUDGE = getattr(defaults, "DEFAULT_MODEL", "embedded:smollm2-135m-instruct")


class _DefaultsToRun(TyperGroup):
    """`kubebench judge RUN_DIR ...` means `kubebench judge run RUN_DIR ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(
    rich_markup_mode=None,
    cls=_DefaultsToRun,
    help=(
        "Score attempts with an LLM judge (rubric: intent, security, best practice, "
        "reasoning) and calibrate the judge against human labels.\n\n"
        "`kubebench judge RUN_DIR --judge provider:name` judges an existing run."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(judge_app, name="judge")


_JUDGE_OPTION = typer.Option(
    DEFAULT_JUDGE, "--judge", help="The judge model, as provider:name (any provider)."
)
_CONCURRENCY_OPTION = typer.Option(
    defaults.JUDGE_CONCURRENCY, "--concurrency", min=1, help="Judge calls in flight at once."
)
_MAX_REASKS_OPTION = typer.Option(
    defaults.JUDGE_MAX_REASKS,
    "--max-reasks",
    min=0,
    help="Corrective re-asks after an unparsable judge reply before it is recorded unscored.",
)
_MAX_TOKENS_OPTION = typer.Option(
    defaults.JUDGE_MAX_TOKENS, "--max-tokens", min=16, help="Most tokens per judge reply."
)
_PRICE_PROMPT_OPTION = typer.Option(
    None, "--price-prompt", min=0.0, help="Judge price in USD per 1M prompt tokens."
)
_PRICE_COMPLETION_OPTION = typer.Option(
    None, "--price-completion", min=0.0, help="Judge price in USD per 1M completion tokens."
)


def _price(prompt: float | None, completion: float | None) -> JudgePrice | None:
    if prompt is None and completion is None:
        return None
    return JudgePrice(prompt_per_mtok=prompt or 0.0, completion_per_mtok=completion or 0.0)


def _create_judge(judge_id: str) -> ModelProvider:
    from kubebench.models.registry import create_provider

    return create_provider(judge_id)


_TaskLookup = TaskLookup  # tests put a lookup of their own tasks here


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


@judge_app.command("run")
def run_command(
    run_dir: Path = typer.Argument(..., help="The run folder (runs/<run-id>/) to judge."),
    judge: str = _JUDGE_OPTION,
    concurrency: int = _CONCURRENCY_OPTION,
    max_reasks: int = _MAX_REASKS_OPTION,
    max_tokens: int = _MAX_TOKENS_OPTION,
    price_prompt: float = _PRICE_PROMPT_OPTION,
    price_completion: float = _PRICE_COMPLETION_OPTION,
) -> None:
    """Judge an existing run without regenerating; resumable, one judgement per judge.

    Attempts this judge already judged are skipped; judgements by other judges are kept.
    Prints the per-criterion means at the end.
    """
    RunStore.open(run_dir).close()  # a folder that is not a run fails before the judge loads
    provider = _create_judge(judge)
    scorer = JudgeScorer(
        provider,
        max_reasks=max_reasks,
        config=judge_generation_config(max_tokens=max_tokens),
        price=_price(price_prompt, price_completion),
    )
    result = score_stored_run(
        run_dir,
        scorer,
        concurrency=concurrency,
        task_for=_TaskLookup().__getitem__,
        verb="judging",
    )
    out.print(
        f"judged {len(result.scored)} attempt(s) now; {result.already_scored} already judged "
        f"by {provider.model_id}; {result.not_graded} not graded (skipped)"
    )
    with RunStore.open(run_dir) as store:
        print_run_summary(store, provider.model_id)
    raise_for_failures(result, f"kubebench judge {run_dir} --judge {judge}")


def print_run_summary(store: RunStore, judge_id: str) -> None:
    """Per-criterion means of one judge over a run, with the overall score beside them."""
    attempts = store.attempts()
    current = store.scores(attempts)
    key = score_key(judge_score_name(judge_id), RUBRIC_VERSION)
    graded = [a for a in attempts if a.graded and a.verdict]
    judged = [current[a.attempt_key][key] for a in graded if key in current.get(a.attempt_key, {})]
    summary = next(iter(summarize_scores(judged)), None)
    means = summary.component_means if summary else {}
    table = Table(title=f"judge {judge_id}: per-criterion means (1-5)")
    table.add_column("criterion")
    table.add_column("mean", justify="right")
    for criterion in CRITERIA:
        table.add_row(criterion.title, _fmt(means.get(criterion.name)))
    out.print(table)

    n = len(graded) or 1
    runtime = sum(a.runtime_valid for a in graded) / n
    operational = sum(a.operational_valid for a in graded) / n
    overall = [
        float(s.metadata["overall_score"])
        for s in judged
        if s.metadata.get("overall_score") is not None
    ]
    mean_overall = sum(overall) / len(overall) if overall else None
    scored, unscored = (summary.scored, summary.unscored) if summary else (0, 0)
    out.print(
        f"scored {scored}, unscored {unscored} (unreadable judge replies, kept "
        f"apart); runtime valid {runtime:.1%}, operational valid {operational:.1%}, overall "
        f"score v{OVERALL_SCORE_VERSION} {_fmt(mean_overall, 3)} over {len(overall)} attempt(s)"
    )
    if summary is not None:
        cost = "" if summary.cost_usd is None else f", cost ${summary.cost_usd:.4f}"
        out.print(
            f"judge usage: {summary.prompt_tokens} prompt + {summary.completion_tokens} "
            f"completion tokens, {summary.latency_s:.1f}s{cost}"
        )


@judge_app.command("calibrate")
def calibrate_command(
    labels: Path = typer.Option(
        None, "--labels", help="Human labels (JSONL, see docs/judge.md); default: the shipped set."
    ),
    run_dir: Path = typer.Option(
        None, "--run", help="A run whose attempts (and this judge's judgements) the labels name."
    ),
    judge: str = _JUDGE_OPTION,
    epochs: int = typer.Option(
        1, "--epochs", min=1, help="Judge each attempt n times and report self-agreement."
    ),
    temperature: float = typer.Option(
        defaults.JUDGE_TEMPERATURE,
        "--temperature",
        min=0.0,
        help="Judge temperature (epochs differ by seed; at 0 only endpoint noise differs).",
    ),
    concurrency: int = _CONCURRENCY_OPTION,
    max_reasks: int = _MAX_REASKS_OPTION,
    max_tokens: int = _MAX_TOKENS_OPTION,
    price_prompt: float = _PRICE_PROMPT_OPTION,
    price_completion: float = _PRICE_COMPLETION_OPTION,
) -> None:
    """Agreement of a judge with human labels (kappa), the grader (AUC) and itself."""
    label_list = load_labels(labels or SHIPPED_LABELS)
    run_attempts: dict[str, object] = {}
    existing: dict[str, Judgement] = {}
    provider = _create_judge(judge)
    if run_dir is not None:
        with RunStore.open(run_dir) as store:
            run_attempts = {a.attempt_key: a for a in store.attempts()}
            existing = judgements_by_attempt(store.scores(), provider.model_id)
    resolved = resolve_labels(label_list, _TaskLookup().__getitem__, run_attempts)
    if not resolved:
        raise UserError("no labels to calibrate on")
    with progress_bar() as bar:
        bar_task = bar.add_task(f"judging with {provider.model_id}", total=len(resolved) * epochs)

        async def go() -> list[CalibrationItem]:
            try:
                return await judge_labelled(
                    resolved,
                    provider,
                    epochs=epochs,
                    existing=existing,
                    concurrency=concurrency,
                    max_reasks=max_reasks,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    price=_price(price_prompt, price_completion),
                    on_judged=lambda: bar.advance(bar_task),
                )
            finally:
                await provider.aclose()

        items = asyncio.run(go())
    print_calibration(compute_calibration(provider.model_id, items))


def print_calibration(report: CalibrationReport) -> None:
    """The calibration report as a table and two lines."""
    table = Table(title=f"judge {report.judge_id} vs human labels ({report.items} attempts)")
    for column in ("criterion", "pairs", "kappa (quadratic)", "kappa", "raw agreement"):
        table.add_column(column, justify="left" if column == "criterion" else "right")
    table.add_column("human mean", justify="right")
    table.add_column("judge mean", justify="right")
    if report.epochs > 1:
        table.add_column(f"self kappa ({report.epochs} epochs)", justify="right")
        table.add_column("self raw", justify="right")
    for c in report.criteria:
        row = [
            c.criterion,
            str(c.pairs),
            _fmt(c.kappa_quadratic, 3),
            _fmt(c.kappa_plain, 3),
            _fmt(c.raw_agreement, 3),
            _fmt(c.human_mean),
            _fmt(c.judge_mean),
        ]
        if report.epochs > 1:
            row += [_fmt(c.self_kappa, 3), _fmt(c.self_raw_agreement, 3)]
        table.add_row(*row)
    out.print(table)
    out.print(
        f"grader agreement: ROC AUC of the judge's intent score for passed vs failed = "
        f"{_fmt(report.auc_judge, 3)} ({report.passed} passed, {report.failed} failed; "
        f"the human labels' AUC is {_fmt(report.auc_human, 3)})"
    )
    total = report.items * max(report.epochs, 1)
    out.print(
        f"unscored judgements: {report.unscored} of {total} (unreadable replies; not in the "
        "figures above)"
    )
