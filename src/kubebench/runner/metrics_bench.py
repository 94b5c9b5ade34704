"""`kubebench bench metrics`: how well text metrics tell correct answers from wrong ones,
next to the grader, on answers whose correctness is known by construction.

For each test task, every equivalent rewrite of its reference (tasks/authoring/rewrites.py: must
pass) and every mutation of it (tasks/authoring/mutations.py: must fail) is graded by KubeBench on
a real control plane and scored by each text metric against the reference. Per metric:
ROC AUC at telling rewrites from mutations, the share of rewrites it scores below the
median mutation, and the grader's accuracy on the same answers. The rewrite and mutation
registries are read as they are, so new entries are measured without a change here.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.grading.verdict import Verdict
from kubebench.retry import RetryPolicy, with_retries
from kubebench.scoring.text_metrics import TEXT_METRICS, score_text
from kubebench.tasks.schema import Task


@dataclass(frozen=True)
class LabelledAnswer:
    """An answer whose correctness is known: a rewrite (correct) or a mutation (wrong)."""

    task: Task
    source: str  # "rewrite" or "mutation"
    name: str
    answer: str

    @property
    def correct(self) -> bool:
        return self.source == "rewrite"


def labelled_answers(tasks: list[Task]) -> list[LabelledAnswer]:
    """Every rewrite and every applicable mutation of each task's reference."""
    from kubebench.tasks.authoring.mutations import mutations_for
    from kubebench.tasks.authoring.rewrites import rewrites_for

    out = []
    for task in tasks:
        out += [LabelledAnswer(task, "rewrite", r.name, r.answer) for r in rewrites_for(task)]
        out += [LabelledAnswer(task, "mutation", m.name, m.answer) for m in mutations_for(task)]
    return out


@dataclass
class MetricRow:
    """One scorer's figures (the grader's own row has binary scores)."""

    name: str
    version: str
    auc: float | None
    correct_below_median_incorrect: float | None
    correct_at_or_below_median_incorrect: float | None  # ties count: binary metrics
    mean_correct: float | None
    mean_incorrect: float | None
    median_incorrect: float | None


@dataclass
class MetricsBenchResult:
    tasks: int
    rewrites: int
    mutations: int
    seconds: float
    grader_accuracy: float
    grader_rewrites_passed: int
    grader_mutations_failed: int
    infrastructure_errors: int
    rows: list[MetricRow]
    by_name: dict[str, dict[str, Any]]  # per rewrite / mutation name: count and grader outcome
    scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # metric -> side
    grader_scores: dict[str, list[float]] = field(default_factory=dict)  # side -> 0/1
    kubernetes_version: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2)


def roc_auc(positive: list[float], negative: list[float]) -> float | None:
    """Area under the ROC curve of a score telling positives from negatives: the chance a
    random positive scores above a random negative, ties counting half (Mann–Whitney U)."""
    if not positive or not negative:
        return None
    from scipy.stats import rankdata

    ranks = rankdata([*positive, *negative])
    n_pos, n_neg = len(positive), len(negative)
    u = float(ranks[:n_pos].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _below_median(
    correct: list[float], incorrect: list[float]
) -> tuple[float | None, float | None, float | None]:
    """Shares of correct answers below, and at or below, the median wrong one; the median."""
    if not correct or not incorrect:
        return None, None, None
    median = statistics.median(incorrect)
    below = sum(v < median for v in correct) / len(correct)
    return below, sum(v <= median for v in correct) / len(correct), median


def _row(name: str, version: str, correct: list[float], incorrect: list[float]) -> MetricRow:
    below, at_or_below, median = _below_median(correct, incorrect)
    return MetricRow(
        name=name,
        version=version,
        auc=roc_auc(correct, incorrect),
        correct_below_median_incorrect=below,
        correct_at_or_below_median_incorrect=at_or_below,
        mean_correct=statistics.fmean(correct) if correct else None,
        mean_incorrect=statistics.fmean(incorrect) if incorrect else None,
        median_incorrect=median,
    )


async def grade_labelled(
    kube: KubeClient,
    answers: list[LabelledAnswer],
    *,
    concurrency: int = defaults.GRADING_CONCURRENCY,
    on_done: Callable[[], None] = lambda: None,
) -> list[Verdict]:
    """Grade every answer through the one grading code path, retrying infrastructure
    errors as the runner does."""
    from kubebench.grading.pipeline import grade_answer

    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: LabelledAnswer) -> Verdict:
        async with semaphore:
            verdict, _, _ = await with_retries(
                lambda: grade_answer(item.task, item.answer, kube),
                RetryPolicy(),
                lambda v: v.infrastructure_error,
            )
            assert verdict is not None  # grade_answer returns its infrastructure errors
        on_done()
        return verdict

    return list(await asyncio.gather(*(one(a) for a in answers)))


def summarize_metrics_bench(
    answers: list[LabelledAnswer], verdicts: list[Verdict], seconds: float, version: str = ""
) -> MetricsBenchResult:
    """The table's figures from graded, labelled answers (infrastructure errors left out)."""
    kept = [
        (a, v) for a, v in zip(answers, verdicts, strict=True) if v.infrastructure_error is None
    ]
    scores: dict[str, dict[str, list[float]]] = {
        m.name: {"correct": [], "incorrect": []} for m in TEXT_METRICS
    }
    grader: dict[str, list[float]] = {"correct": [], "incorrect": []}
    by_name: dict[str, Counter[str]] = {}
    for a, v in kept:
        side = "correct" if a.correct else "incorrect"
        for name, value in score_text(a.answer, a.task.reference).items():
            scores[name][side].append(value)
        grader[side].append(float(v.success))
        counts = by_name.setdefault(f"{a.source}:{a.name}", Counter())
        counts["answers"] += 1
        counts["graded_as_expected"] += v.success == a.correct
    rows = [_row("KubeBench grader", "cluster", grader["correct"], grader["incorrect"])]
    rows += [
        _row(m.name, m.version, scores[m.name]["correct"], scores[m.name]["incorrect"])
        for m in TEXT_METRICS
    ]
    passed = int(sum(grader["correct"]))
    failed = int(len(grader["incorrect"]) - sum(grader["incorrect"]))
    total = len(grader["correct"]) + len(grader["incorrect"])
    return MetricsBenchResult(
        tasks=len({a.task.id for a in answers}),
        rewrites=sum(a.correct for a in answers),
        mutations=sum(not a.correct for a in answers),
        seconds=seconds,
        grader_accuracy=(passed + failed) / total if total else 0.0,
        grader_rewrites_passed=passed,
        grader_mutations_failed=failed,
        infrastructure_errors=len(answers) - len(kept),
        rows=rows,
        by_name={k: dict(v) for k, v in sorted(by_name.items())},
        scores=scores,
        grader_scores=grader,
        kubernetes_version=version,
    )


def run_metrics_bench(
    connection: Any,
    tasks: list[Task],
    *,
    concurrency: int = defaults.GRADING_CONCURRENCY,
    on_total: Callable[[int], None] = lambda _: None,
    on_done: Callable[[], None] = lambda: None,
) -> MetricsBenchResult:
    """Grade and score every rewrite and mutation of `tasks` on the cluster at
    `connection`."""
    from kubebench.grading.pipeline import settle_cleanups

    answers = labelled_answers(tasks)
    on_total(len(answers))

    async def main() -> tuple[list[Verdict], str]:
        async with KubeClient(connection, max_connections=max(64, 4 * concurrency)) as kube:
            version = str((await kube.version()).get("gitVersion", ""))
            verdicts = await grade_labelled(kube, answers, concurrency=concurrency, on_done=on_done)
            await settle_cleanups(kube)
            return verdicts, version

    started = time.monotonic()
    verdicts, version = asyncio.run(main())
    return summarize_metrics_bench(answers, verdicts, time.monotonic() - started, version)


def metrics_table_markdown(result: MetricsBenchResult) -> str:
    """The table for the README and notes."""
    lines = [
        "| scorer | ROC AUC (correct vs wrong) | correct answers scored below the median wrong one "
        "| … at or below it | mean on correct | mean on wrong |",
        "|---|---|---|---|---|---|",
    ]

    def f(v: float | None, pct: bool = False) -> str:
        if v is None:
            return "—"
        return f"{100 * v:.1f} %" if pct else f"{v:.3f}"

    for row in result.rows:
        lines.append(
            f"| {row.name} | {f(row.auc)} | {f(row.correct_below_median_incorrect, True)} "
            f"| {f(row.correct_at_or_below_median_incorrect, True)} "
            f"| {f(row.mean_correct)} | {f(row.mean_incorrect)} |"
        )
    lines.append("")
    lines.append(
        f"{result.tasks} test tasks: {result.rewrites} equivalent rewrites (must pass) and "
        f"{result.mutations} mutations (must fail). The grader's accuracy on the same answers: "
        f"{100 * result.grader_accuracy:.1f} % ({result.grader_rewrites_passed} rewrites passed, "
        f"{result.grader_mutations_failed} mutations failed); "
        f"{result.infrastructure_errors} infrastructure errors left out."
    )
    return "\n".join(lines) + "\n"
