"""A run's scores, computed from its stored attempts.

Rates count graded attempts only: an attempt with an infrastructure error is neither a
success nor a failure of the model, and is counted apart. With several samples per
task, rates are over attempts and pass@k is the unbiased estimator of Chen et al.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from kubebench.runner.passk import mean_pass_at_k
from kubebench.runner.store import AttemptRecord, RunMeta, RunStore
from kubebench.tasks.schema import Kind, Tier


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "success_rate": self.success_rate,
            "runtime_valid_rate": self.runtime_valid_rate,
            "operational_valid_rate": self.operational_valid_rate,
        }


@dataclass
class JudgeSummary:
    """Means of a judge's criterion scores over the attempts it scored."""

    judge_id: str
    scored: int = 0
    unscored: int = 0
    criterion_means: dict[str, float] = field(default_factory=dict)
    mean_overall_score: float | None = None


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
    judges: list[JudgeSummary]
    failure_stages: dict[str, int]  # where failed attempts stopped
    mean_latency_s: float | None = None
    cached: int = 0

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
            "judges": [asdict(j) for j in self.judges],
            "failure_stages": self.failure_stages,
            "mean_latency_s": self.mean_latency_s,
            "cached": self.cached,
        }


def _ordered(values: set[str], order: list[str]) -> list[str]:
    return [v for v in order if v in values] + sorted(values - set(order))


def summarize(
    meta: RunMeta,
    attempts: list[AttemptRecord],
    judgement_lines: list[dict[str, Any]] | None = None,
) -> RunSummary:
    """Compute every per-run score from the current attempt records (and the raw lines
    of judgements.jsonl, for judge means)."""
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
        judges=summarize_judgements(attempts, judgement_lines),
        failure_stages=dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        mean_latency_s=sum(latencies) / len(latencies) if latencies else None,
        cached=cached,
    )


def summarize_judgements(
    attempts: list[AttemptRecord], judgement_lines: list[dict[str, Any]] | None = None
) -> list[JudgeSummary]:
    """Per judge: scored/unscored counts and the mean of each criterion.

    Judgements come from the attempts (a judge that ran during `kubebench run`) and from
    judgements.jsonl lines (`kubebench judge` afterwards; the last line per judge and
    attempt wins). Only attempts that count (no infrastructure error) are included; the
    mean overall score uses the attempts' own overall scores.
    """
    current = {rec.attempt_key: rec for rec in attempts if rec.graded}
    chosen: dict[tuple[str, str], tuple[dict[str, Any], float | None]] = {}
    for rec in current.values():
        if rec.judgement:
            judge_id = str(rec.judgement.get("judge_id") or rec.judge_id or "judge")
            chosen[(judge_id, rec.attempt_key)] = (rec.judgement, rec.overall_score)
    for line in judgement_lines or []:
        key, judgement = str(line.get("attempt_key")), line.get("judgement")
        if key in current and isinstance(judgement, dict):
            judge_id = str(line.get("judge_id") or judgement.get("judge_id") or "judge")
            chosen[(judge_id, key)] = (judgement, None)

    by_judge: dict[str, JudgeSummary] = {}
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    overall: dict[str, list[float]] = defaultdict(list)
    for (judge_id, _), (judgement, overall_score) in chosen.items():
        summary = by_judge.setdefault(judge_id, JudgeSummary(judge_id))
        scores = judgement.get("scores")
        if not judgement.get("scored") or not isinstance(scores, dict) or not scores:
            summary.unscored += 1
            continue
        summary.scored += 1
        for criterion, score in scores.items():
            sums[judge_id][criterion].append(float(score))
        if overall_score is not None:
            overall[judge_id].append(overall_score)
    for judge_id, summary in by_judge.items():
        summary.criterion_means = {c: sum(v) / len(v) for c, v in sums[judge_id].items()}
        values = overall[judge_id]
        summary.mean_overall_score = sum(values) / len(values) if values else None
    return list(by_judge.values())


def summarize_store(store: RunStore) -> RunSummary:
    """The summary of a stored run, judgements.jsonl included."""
    return summarize(store.meta, store.attempts(), store.judgement_lines())
