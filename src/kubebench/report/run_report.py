"""Everything `kubebench report` shows about one run, as one JSON-ready dict.

Every renderer (text, Markdown, HTML and its plots) reads this dict and nothing else, so
each number a plot draws is also in `--format json`.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from kubebench.report.run_reading import RunSnapshot
from kubebench.report.stats import Rate, mean_pass_hat_k, quantile, wilson
from kubebench.report.summary import RunScores, RunSummary, summarize
from kubebench.runner.passk import mean_pass_at_k
from kubebench.runner.store import AttemptRecord, RunMeta
from kubebench.scoring.base import Score
from kubebench.scoring.judge import is_judge_score
from kubebench.scoring.summary import mean_or_none
from kubebench.tasks.schema import Kind, Task, Tier

REPORT_SCHEMA_VERSION = 1

# Where a failed attempt stopped, in pipeline order (expectations split by type).
FAILURE_STAGES = (
    "extract",
    "parse",
    "scope",
    "dry_run",
    "apply",
    "expectations: object",
    "expectations: access",
    "infrastructure",
)
FORMAT_ERROR_STAGES = frozenset({"extract", "parse"})  # no YAML, or YAML that does not parse


def failure_stage(rec: AttemptRecord) -> str | None:
    """Where an attempt failed (None when it passed)."""
    if rec.infrastructure_error is not None or rec.verdict is None:
        return "infrastructure"
    if rec.success:
        return None
    stage = rec.verdict.stage.value
    if stage in ("expectations", "passed"):
        failed = next((e for e in rec.verdict.expectations if not e.passed), None)
        return f"expectations: {failed.kind if failed else 'object'}"
    return stage


def first_failing_reason(rec: AttemptRecord) -> str:
    """The one line a person needs: the grader's reason, and the first failed
    expectation with what was observed."""
    if rec.infrastructure_error is not None:
        return f"infrastructure ({rec.infrastructure_stage or 'unknown stage'}): " + (
            rec.infrastructure_error
        )
    if rec.verdict is None:
        return "no verdict recorded"
    failed = next((e for e in rec.verdict.expectations if not e.passed), None)
    parts = [rec.verdict.reason] if rec.verdict.reason else []
    if failed is not None:
        detail = f"{failed.description}: {failed.reason}" if failed.reason else failed.description
        if detail not in parts:
            parts.append(detail)
    return " — ".join(parts) or rec.verdict.stage.value


def anchor(attempt_key: str) -> str:
    """The HTML id of an attempt's row (`#attempt-<task>-<sample>`)."""
    return "attempt-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in attempt_key)


def reconstructed_command(meta: RunMeta) -> str:
    """`kubebench run ...` that repeats this run, from run.json."""
    args = ["kubebench", "run", "--model", meta.model_id, "--split", meta.split]
    f = meta.filters
    for flag, key in (("--kind", "kinds"), ("--tier", "tiers"), ("--task", "task_ids")):
        for value in f.get(key) or []:
            args += [flag, str(value)]
    if f.get("stratified") is not None:
        args += ["--stratified", str(f["stratified"])]
    if f.get("limit") is not None:
        args += ["--limit", str(f["limit"])]
    g = meta.generation
    args += ["--samples", str(meta.samples), "--temperature", str(g.temperature)]
    args += ["--top-p", str(g.top_p), "--max-tokens", str(g.max_tokens)]
    seed = g.seed if g.seed is not None else f.get("stratified_seed")
    if seed is not None:
        args += ["--seed", str(seed)]
    if meta.shots:
        args += ["--shots", str(meta.shots)]
    if meta.judge_id:
        args += ["--judge", meta.judge_id]
    return shlex.join(args)


def run_command(meta: RunMeta) -> tuple[str, bool]:
    """The run's command line and whether run.json recorded it (else reconstructed)."""
    extra = meta.model_extra or {}
    recorded = extra.get("command") or extra.get("argv")
    if isinstance(recorded, list):
        return shlex.join(str(a) for a in recorded), True
    if isinstance(recorded, str) and recorded:
        return recorded, True
    return reconstructed_command(meta), False


def provenance(meta: RunMeta) -> dict[str, Any]:
    """What produced the run, from run.json."""
    command, recorded = run_command(meta)
    provider = dict(meta.provider)
    return {
        "run_id": meta.run_id,
        "model_id": meta.model_id,
        "provider": provider,
        "endpoint": provider.get("base_url") or provider.get("endpoint") or provider.get("path"),
        "generation": meta.generation.model_dump(mode="json"),
        "prompt_version": meta.prompt_version,
        "shots": meta.shots,
        "split": meta.split,
        "filters": meta.filters,
        "samples": meta.samples,
        "planned_tasks": len(meta.task_ids),
        "task_set_hash": meta.task_set_hash,
        "judge_id": meta.judge_id,
        "scorers": meta.scorer_specs,
        "kubebench_version": meta.kubebench_version,
        "kubernetes_version": meta.kubernetes_version,
        "git_revision": meta.git_revision,
        "python_version": meta.python_version,
        "packages": meta.packages,
        "cluster": meta.cluster,
        "created_at": meta.created_at,
        "command": command,
        "command_recorded": recorded,
    }


def _ordered(values: Iterable[str], order: list[str]) -> list[str]:
    seen = set(values)
    return [v for v in order if v in seen] + sorted(seen - set(order))


def _rate(records: list[AttemptRecord], attr: str) -> Rate:
    graded = [r for r in records if r.graded]
    return wilson(sum(bool(getattr(r, attr)) for r in graded), len(graded))


def _rates(records: list[AttemptRecord]) -> dict[str, Any]:
    return {
        name: _rate(records, name).as_dict()
        for name in ("success", "runtime_valid", "operational_valid")
    }


def _costs(records: list[AttemptRecord]) -> dict[str, Any]:
    """Tokens, model latency and attempt seconds, per attempt and per task."""
    prompt = [r.prompt_tokens for r in records if r.prompt_tokens is not None]
    completion = [r.completion_tokens for r in records if r.completion_tokens is not None]
    latency = [r.latency_s for r in records if not r.cached and r.latency_s]
    seconds = [r.timings["total_s"] for r in records if "total_s" in r.timings]
    tasks = len({r.task_id for r in records}) or 1
    tokens = [p + c for p, c in zip(prompt, completion, strict=False)]
    return {
        "attempts": len(records),
        "tasks": len({r.task_id for r in records}),
        "prompt_tokens_per_attempt": mean_or_none([float(v) for v in prompt]),
        "completion_tokens_per_attempt": mean_or_none([float(v) for v in completion]),
        "tokens_per_task": sum(tokens) / tasks if tokens else None,
        "latency_s_mean": mean_or_none(latency),
        "latency_s_p50": quantile(sorted(latency), 0.5),
        "latency_s_p95": quantile(sorted(latency), 0.95),
        "seconds_per_attempt": mean_or_none(seconds),
        "seconds_per_task": sum(seconds) / tasks if seconds else None,
        "cached": sum(r.cached for r in records),
    }


def _pass_k(meta: RunMeta, records: list[AttemptRecord]) -> list[dict[str, Any]]:
    if meta.samples <= 1:
        return []
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r.graded:
            counts[r.task_id][0] += 1
            counts[r.task_id][1] += r.success
    pairs = [(n, c) for n, c in counts.values()]
    return [
        {
            "k": k,
            "pass_at_k": mean_pass_at_k(pairs, k),
            "pass_hat_k": mean_pass_hat_k(pairs, k),
            "tasks": sum(n >= k for n, _ in pairs),
        }
        for k in range(1, meta.samples + 1)
    ]


def _judges(
    summary: RunSummary, records: list[AttemptRecord], scores: RunScores
) -> list[dict[str, Any]]:
    """Per judge: the distribution of each criterion's 1–5 scores, their means, and the
    overall score's distribution (tenths) and mean."""
    result = []
    for judge in summary.judges:
        chosen = [
            by_key[judge.key]
            for r in records
            if r.graded and judge.key in (by_key := scores.get(r.attempt_key, {}))
        ]
        criteria: dict[str, dict[str, int]] = {}
        overall: list[float] = []
        for score in chosen:
            if not isinstance(score.value, dict):
                continue
            for criterion, value in score.value.items():
                dist = criteria.setdefault(criterion, {str(s): 0 for s in range(1, 6)})
                label = str(round(float(value or 0)))
                dist[label] = dist.get(label, 0) + 1
            if score.metadata.get("overall_score") is not None:
                overall.append(float(score.metadata["overall_score"]))
        bins = [0] * 10
        for value in overall:
            bins[min(9, max(0, int(value * 10)))] += 1
        result.append(
            {
                "judge_id": judge.judge_id,
                "scorer": judge.key,
                "scored": judge.scored,
                "unscored": judge.unscored,
                "criteria": criteria,
                "criterion_means": judge.component_means,
                "overall_score_mean": mean_or_none(overall),
                "overall_score_histogram": {
                    "edges": [i / 10 for i in range(11)],
                    "counts": bins,
                },
            }
        )
    return result


def _overall_score(scores: Mapping[str, Score]) -> float | None:
    """An attempt's overall score: its first judge's (kubebench.judge.score)."""
    for score in scores.values():
        if is_judge_score(score.name) and score.metadata.get("overall_score") is not None:
            return float(score.metadata["overall_score"])
    return None


def _score_values(scores: Mapping[str, Score]) -> dict[str, Any]:
    return {key: score.value for key, score in scores.items()}


def _references(meta: RunMeta) -> tuple[dict[str, Task], str | None]:
    """The run's tasks from the shipped split, and a note when they are not the run's."""
    from kubebench.errors import UserError
    from kubebench.tasks.loader import load_tasks, task_set_hash

    try:
        tasks = load_tasks(meta.split)
    except (UserError, FileNotFoundError) as exc:
        return {}, f"no references: split {meta.split!r} cannot be loaded ({exc})"
    note = None
    if meta.task_set_hash and task_set_hash(tasks) != meta.task_set_hash:
        note = (
            f"the {meta.split} tasks changed since this run (task-set hash "
            f"{meta.task_set_hash[:12]}); text metrics use today's references"
        )
    return {t.id: t for t in tasks}, note


def _text_metrics(
    meta: RunMeta, records: list[AttemptRecord]
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Per attempt, every text metric against the reference; and their means overall,
    over passing and failing attempts, and per kind."""
    from kubebench.scoring.text_metrics import TEXT_METRICS, score_text

    tasks, note = _references(meta)
    per_attempt: dict[str, dict[str, float]] = {}
    for r in records:
        task = tasks.get(r.task_id)
        if r.graded and task is not None:
            per_attempt[r.attempt_key] = score_text(r.answer, task.reference)
    by_key = {r.attempt_key: r for r in records}
    metrics = []
    for m in TEXT_METRICS:
        values = {k: v[m.name] for k, v in per_attempt.items()}
        passing = [v for k, v in values.items() if by_key[k].success]
        failing = [v for k, v in values.items() if not by_key[k].success]
        kinds: dict[str, list[float]] = defaultdict(list)
        for k, v in values.items():
            kinds[by_key[k].category].append(v)
        metrics.append(
            {
                "name": m.name,
                "version": m.version,
                "summary": m.summary,
                "mean": mean_or_none(list(values.values())),
                "mean_passing": mean_or_none(passing),
                "mean_failing": mean_or_none(failing),
                "by_kind": {kind: mean_or_none(v) for kind, v in kinds.items()},
            }
        )
    return {"scored_attempts": len(per_attempt), "note": note, "metrics": metrics}, per_attempt


def build_report(snapshot: RunSnapshot, *, text_metrics: bool = True) -> dict[str, Any]:
    """The whole report of one run as a JSON-ready dict (without the text metrics, which
    read the task files and score every answer, when `text_metrics` is False)."""
    meta, records, scores = snapshot.meta, snapshot.attempts, snapshot.scores
    summary = summarize(meta, records, scores)
    kinds = _ordered((r.category for r in records), [k.value for k in Kind])
    tiers = _ordered((r.tier for r in records), [t.value for t in Tier])
    cells = []
    by_cell: dict[tuple[str, str], list[AttemptRecord]] = defaultdict(list)
    for r in records:
        by_cell[(r.category, r.tier)].append(r)
    for kind in kinds:
        for tier in tiers:
            group = by_cell.get((kind, tier), [])
            if group:
                cells.append({"kind": kind, "tier": tier, **_rate(group, "success").as_dict()})
    by_kind: dict[str, list[AttemptRecord]] = defaultdict(list)
    for r in records:
        by_kind[r.category].append(r)
    stages: dict[str, Counter[str]] = {kind: Counter() for kind in kinds}
    for r in records:
        stage = failure_stage(r)
        if stage is not None:
            stages[r.category][stage] += 1
    text_summary: dict[str, Any] = {"scored_attempts": 0, "note": "not computed", "metrics": []}
    text_scores: dict[str, dict[str, float]] = {}
    if text_metrics:
        text_summary, text_scores = _text_metrics(meta, records)
    failures = []
    attempts = []
    for r in records:
        stage = failure_stage(r)
        row = {
            "attempt_key": r.attempt_key,
            "anchor": anchor(r.attempt_key),
            "task_id": r.task_id,
            "sample": r.sample,
            "kind": r.category,
            "tier": r.tier,
            "success": r.success,
            "runtime_valid": r.runtime_valid,
            "operational_valid": r.operational_valid,
            "stage": stage or "passed",
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "latency_s": r.latency_s,
            "seconds": r.timings.get("total_s"),
            "finish_reason": r.finish_reason,
            "overall_score": _overall_score(scores.get(r.attempt_key, {})),
            "scores": _score_values(scores.get(r.attempt_key, {})),
            "text_metrics": text_scores.get(r.attempt_key, {}),
        }
        attempts.append(row)
        if stage is not None:
            failures.append(
                row | {"reason": first_failing_reason(r), "answer_excerpt": r.answer[:2000]}
            )
    graded = [r for r in records if r.graded]
    format_errors = sum(failure_stage(r) in FORMAT_ERROR_STAGES for r in graded)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        # The keys of `kubebench report --json` before this format, kept for its readers.
        **summary.as_dict(),
        "provenance": provenance(meta),
        "status": {
            "planned": meta.planned_attempts,
            "recorded": len(records),
            "missing": max(0, meta.planned_attempts - len(records)),
            "graded": len(graded),
            "infrastructure_errors": len(records) - len(graded),
            "writer_active": snapshot.writer_active,
            "store_warnings": snapshot.warnings,
        },
        "rates": _rates(records),
        "format_errors": wilson(format_errors, len(graded)).as_dict(),
        "heatmap": {"kinds": kinds, "tiers": tiers, "cells": cells},
        "rates_by_kind": {kind: _rates(group) for kind, group in by_kind.items()},
        "failure_stages_by_kind": {
            "stages": list(FAILURE_STAGES),
            "kinds": {kind: {s: stages[kind].get(s, 0) for s in FAILURE_STAGES} for kind in kinds},
        },
        "pass_k": _pass_k(meta, records),
        "judge_details": _judges(summary, records, scores),
        "costs": _costs(records),
        "costs_by_kind": {kind: _costs(group) for kind, group in by_kind.items()},
        "text_metrics": text_summary,
        "failed_attempts": failures,
        "attempts": attempts,
    }
