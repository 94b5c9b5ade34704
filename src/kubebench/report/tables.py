"""A run summary as rich tables: kind × tier success grid, rates, pass@k, judge means.

Every rate comes with its 95 % Wilson interval (a cell of 34 attempts is uncertain by
up to ±17 points): `66.7 % (2/3) [21–94]`.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kubebench.report.summary import RunSummary, Tally


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _interval(tally: Tally, what: str = "success") -> str:
    """`[9–91]`: the 95 % Wilson interval in whole percentage points."""
    low, high = tally.interval(what)
    if low is None or high is None:
        return ""
    return f"[{100 * low:.0f}–{100 * high:.0f}]"


def _rate(tally: Tally, what: str) -> str:
    """`50.0 % [9–91]`: a rate of the tally with its interval."""
    if not tally.graded:
        return "—"
    return f"{_pct(getattr(tally, f'{what}_rate'))} {_interval(tally, what)}"


def _cell(tally: Tally | None) -> str:
    if tally is None or (tally.graded == 0 and tally.infrastructure_errors == 0):
        return ""
    if tally.graded == 0:
        return f"— (0/0, {tally.infrastructure_errors} infra)"
    return f"{_pct(tally.success_rate)} ({tally.success}/{tally.graded}) {_interval(tally)}"


def success_grid(summary: RunSummary) -> Table:
    """Success rate per kind (rows) × tier (columns), with row and column totals."""
    table = Table(
        title=f"success rate by kind × tier — {summary.model_id} (95 % Wilson intervals)",
        title_justify="left",
    )
    table.add_column("kind", style="bold", no_wrap=True, min_width=len("ClusterRoleBinding"))
    for tier in summary.by_tier:
        table.add_column(tier, justify="right")
    table.add_column("all tiers", justify="right", style="bold")
    for kind, kind_tally in summary.by_kind.items():
        row = [_cell(summary.by_cell.get((kind, tier))) for tier in summary.by_tier]
        table.add_row(kind, *row, _cell(kind_tally))
    table.add_section()
    table.add_row(
        "all kinds",
        *(_cell(t) for t in summary.by_tier.values()),
        _cell(summary.overall),
        style="bold",
    )
    return table


def kind_table(summary: RunSummary) -> Table:
    """Per kind: success, runtime-valid and operational-valid rates."""
    table = Table(title="by kind (95 % Wilson intervals)", title_justify="left")
    for name in ("kind", "attempts", "success", "runtime valid", "operational valid", "infra"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    for kind, t in summary.by_kind.items():
        table.add_row(
            kind,
            str(t.graded),
            _rate(t, "success"),
            _rate(t, "runtime_valid"),
            _rate(t, "operational_valid"),
            str(t.infrastructure_errors),
        )
    return table


def totals_table(summary: RunSummary) -> Table:
    """The run's headline figures."""
    o = summary.overall
    table = Table(title=f"run {summary.run_id}", title_justify="left", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("model", summary.model_id)
    table.add_row("split / samples per task", f"{summary.split} / {summary.samples}")
    table.add_row("attempts graded / planned", f"{o.graded} / {summary.planned}")
    if summary.missing:
        table.add_row("attempts not yet run", Text(str(summary.missing), style="yellow"))
    for label, what in (
        ("success (runtime ∧ operational)", "success"),
        ("runtime valid", "runtime_valid"),
        ("operational valid", "operational_valid"),
    ):
        table.add_row(label, f"{_rate(o, what)} ({getattr(o, what)})")
    infra_style = "red" if o.infrastructure_errors else ""
    table.add_row(
        "infrastructure errors (not scored)",
        Text(str(o.infrastructure_errors), style=infra_style),
    )
    for k, value in summary.pass_at_k.items():
        table.add_row(f"pass@{k}", _pct(value))
    if summary.failure_stages:
        stages = ", ".join(f"{stage} {n}" for stage, n in summary.failure_stages.items())
        table.add_row("failures stopped at", stages)
    if summary.mean_latency_s is not None:
        table.add_row("mean model latency (s)", f"{summary.mean_latency_s:.2f}")
    if summary.cached:
        table.add_row("answers from the response cache", str(summary.cached))
    return table


def judge_tables(summary: RunSummary) -> list[Table]:
    """One table per judge: criterion means (1..5) and the mean overall score."""
    tables = []
    for judge in summary.judges:
        table = Table(title=f"judge {judge.judge_id}", title_justify="left")
        table.add_column("criterion")
        table.add_column("mean (1–5)", justify="right")
        for criterion, mean in judge.criterion_means.items():
            table.add_row(criterion, f"{mean:.2f}")
        table.add_section()
        table.add_row("scored / unscored", f"{judge.scored} / {judge.unscored}")
        if judge.mean_overall_score is not None:
            table.add_row("mean overall score (0–1)", f"{judge.mean_overall_score:.3f}")
        tables.append(table)
    return tables


def scorer_table(summary: RunSummary) -> Table | None:
    """The other scorers (neither the grader nor a judge): scored, unscored, mean."""
    others = [s for s in summary.scorers if s.name != "grader" and s not in summary.judges]
    if not others:
        return None
    table = Table(title="other scorers", title_justify="left")
    for name in ("scorer", "scored / unscored", "mean"):
        table.add_column(name, justify="left" if name == "scorer" else "right")
    for s in others:
        mean = "—" if s.mean is None else f"{s.mean:.3f}"
        table.add_row(s.key, f"{s.scored} / {s.unscored}", mean)
    return table


def render_summary(summary: RunSummary, *, by_kind: bool = False) -> RenderableType:
    """Everything `kubebench report` prints, in order."""
    parts: list[RenderableType] = [totals_table(summary), success_grid(summary)]
    if by_kind:
        parts.append(kind_table(summary))
    parts.extend(judge_tables(summary))
    if (others := scorer_table(summary)) is not None:
        parts.append(others)
    return Group(*parts)
