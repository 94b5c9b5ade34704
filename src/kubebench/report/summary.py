"""A run's scores, computed from its stored attempts.

Rates count graded attempts only: an attempt with an infrastructure error is neither a
success nor a failure of the model, and is counted apart. With several samples per
task, rates are over attempts and pass@k is the unbiased estimator of Chen et al.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from kubebench.report.stats import wilson
from kubebench.runner.passk import mean_pass_at_k
from kubebench.runner.store import AttemptRecord, RunMeta, RunStore
from kubebench.scoring.base import Score
from kubebench.scoring.judge import is_judge_score
from kubebench.scoring.summary import ScoreSummary, current_scores, summarize_scores
from kubebench.tasks.schema import Kind, Tier

RunScores = Mapping[str, Mapping[str, Score]]  # attempt_key -> name@version -> Score


@dataclass
class Tally:
    """Counts of one group of attempts."""

    graded: int = 0
    success: int = 0
    runtime_valid: int = 0
    operational_valid: int = 0
    infrastructure_errors: int = 0

    def add(self, rec: AttemptRecord) -> None:
        if not rec.graded:
            self.infrastructure_errors += 1
            return
        self.graded += 1
        self.success += rec.success
        self.runtime_valid += rec.runtime_valid
        self.operational_valid += rec.operational_valid

    @property
    def success_rate(self) -> float | None:
        return self.success / self.graded if self.graded else None

    @property
    def runtime_valid_rate(self) -> float | None:
        return self.runtime_valid / self.graded if self.graded else None

    @property
    def operational_valid_rate(self) -> float | None:
        return self.operational_valid / self.graded if self.graded else None

    def interval(self, what: str = "success") -> tuple[float | None, float | None]:
        """The 95 % Wilson interval of a rate (`success`, `runtime_valid`, ...)."""
        rate = wilson(getattr(self, what), self.graded)
        return rate.low, rate.high

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for what in ("success", "runtime_valid", "operational_valid"):
            out[f"{what}_rate"] = getattr(self, f"{what}_rate")
            out[f"{what}_ci95"] = list(self.interval(what))
        return out


def _judge_dict(summary: ScoreSummary) -> dict[str, Any]:
    """A judge's summary under the keys `report --json` has always had, and the rest."""
    return summary.as_dict() | {
        "judge_id": summary.judge_id,
        "criterion_means": summary.component_means,
    }


@dataclass
class RunSummary:
    run_id: str
    model_id: str
    split: str
    samples: int
    planned: int
    recorded: int
    overall: Tally
    by_cell: dict[tuple[str, str], Tally]  # (kind, tier)
    by_kind: dict[str, Tally]
    by_tier: dict[str, Tally]
    pass_at_k: dict[int, float | None]
    scorers: list[ScoreSummary]  # every scorer's, over the graded attempts
    failure_stages: dict[str, int]  # where failed attempts stopped
    mean_latency_s: float | None = None
    cached: int = 0

    @property
    def judges(self) -> list[ScoreSummary]:
        return [s for s in self.scorers if is_judge_score(s.name)]

    @property
    def missing(self) -> int:
        """Planned attempts with no record yet (an interrupted run)."""
        return max(0, self.planned - self.recorded)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (`kubebench report --json`)."""
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "split": self.split,
            "samples": self.samples,
            "planned": self.planned,
            "recorded": self.recorded,
            "missing": self.missing,
            "overall": self.overall.as_dict(),
            "by_kind": {k: t.as_dict() for k, t in self.by_kind.items()},
            "by_tier": {k: t.as_dict() for k, t in self.by_tier.items()},
            "by_cell": [
                {"kind": kind, "tier": tier, **t.as_dict()}
                for (kind, tier), t in self.by_cell.items()
            ],
            "pass_at_k": {str(k): v for k, v in self.pass_at_k.items()},
            "judges": [_judge_dict(j) for j in self.judges],
            "scorers": [s.as_dict() for s in self.scorers],
            "failure_stages": self.failure_stages,
            "mean_latency_s": self.mean_latency_s,
            "cached": self.cached,
        }


def _ordered(values: set[str], order: list[str]) -> list[str]:
    return [v for v in order if v in values] + sorted(values - set(order))


def attempt_scores(attempts: list[AttemptRecord]) -> dict[str, dict[str, Score]]:
    """The scores records alone hold (records read without their store: the grader's
    verdicts, and judgements older runs kept inline)."""
    from kubebench.runner.scores import legacy_score_records

    return current_scores(legacy_score_records(attempts, attempts, [], set()))


def summarize_graded_scores(attempts: list[AttemptRecord], scores: RunScores) -> list[ScoreSummary]:
    """One summary per scorer over the attempts that count (no infrastructure error)."""
    chosen = [
        score
        for rec in attempts
        if rec.graded
        for score in scores.get(rec.attempt_key, {}).values()
    ]
    return summarize_scores(chosen)


def summarize(
    meta: RunMeta,
    attempts: list[AttemptRecord],
    scores: RunScores | None = None,
) -> RunSummary:
    """Compute every per-run score from the current attempt records and the run's
    current scores (`RunStore.scores()`; by default those the records alone hold)."""
    if scores is None:
        scores = attempt_scores(attempts)
    overall = Tally()
    cells: dict[tuple[str, str], Tally] = defaultdict(Tally)
    per_task: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # task -> [n, c]
    stages: dict[str, int] = defaultdict(int)
    latencies = []
    cached = 0
    for rec in attempts:
        overall.add(rec)
        cells[(rec.category, rec.tier)].add(rec)
        if rec.graded:
            per_task[rec.task_id][0] += 1
            per_task[rec.task_id][1] += rec.success
            if not rec.success and rec.verdict is not None:
                stages[rec.verdict.stage.value] += 1
        cached += rec.cached
        if not rec.cached and rec.latency_s:
            latencies.append(rec.latency_s)
    kinds = _ordered({k for k, _ in cells}, [k.value for k in Kind])
    tiers = _ordered({t for _, t in cells}, [t.value for t in Tier])
    by_cell = {(k, t): cells[(k, t)] for k in kinds for t in tiers if (k, t) in cells}
    by_kind: dict[str, Tally] = {}
    by_tier: dict[str, Tally] = {}
    for rec in attempts:
        by_kind.setdefault(rec.category, Tally()).add(rec)
        by_tier.setdefault(rec.tier, Tally()).add(rec)
    pass_at_k: dict[int, float | None] = {}
    if meta.samples > 1:
        counts = [(n, c) for n, c in per_task.values()]
        pass_at_k = {k: mean_pass_at_k(counts, k) for k in range(1, meta.samples + 1)}
    return RunSummary(
        run_id=meta.run_id,
        model_id=meta.model_id,
        split=meta.split,
        samples=meta.samples,
        planned=meta.planned_attempts,
        recorded=len(attempts),
        overall=overall,
        by_cell=by_cell,
        by_kind={k: by_kind[k] for k in kinds},
        by_tier={t: by_tier[t] for t in tiers},
        pass_at_k=pass_at_k,
        scorers=summarize_graded_scores(attempts, scores),
        failure_stages=dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        mean_latency_s=sum(latencies) / len(latencies) if latencies else None,
        cached=cached,
    )


def summarize_store(store: RunStore) -> RunSummary:
    """The summary of a stored run, every score included."""
    attempts = store.attempts()
    return summarize(store.meta, attempts, store.scores(attempts))
