"""Paired comparison of runs: the same attempts (task and sample) graded in each run.

The first run is the baseline; every other run is compared with it over the attempts
both graded (infrastructure errors and attempts only one run has are left out, and
counted). Differences come with a paired bootstrap 95 % interval (resampling tasks) and
the exact McNemar test; the attempts that flipped are listed each way.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kubebench.errors import UserError
from kubebench.report.run_reading import RunSnapshot
from kubebench.report.run_report import first_failing_reason
from kubebench.report.stats import mcnemar_exact, paired_bootstrap, wilson
from kubebench.runner.store import AttemptRecord
from kubebench.tasks.schema import Kind, Tier

COMPARE_SCHEMA_VERSION = 1


def comparability_problems(base: RunSnapshot, other: RunSnapshot) -> list[str]:
    """Why two runs' success rates are not comparable (empty when they are)."""
    a, b = base.meta, other.meta
    problems = []
    if a.split != b.split:
        problems.append(f"different splits ({a.split} vs {b.split})")
    if a.task_set_hash != b.task_set_hash:
        problems.append(
            f"different task sets (task-set hash {a.task_set_hash[:12] or '—'} vs "
            f"{b.task_set_hash[:12] or '—'})"
        )
    if a.prompt_version != b.prompt_version:
        problems.append(
            f"different prompt versions ({a.prompt_version or '—'} vs {b.prompt_version or '—'})"
        )
    return problems


def _side(rec: AttemptRecord) -> dict[str, Any]:
    return {
        "success": rec.success,
        "stage": rec.verdict.stage.value if rec.verdict else None,
        "reason": None if rec.success else first_failing_reason(rec),
    }


def _paired(pairs: list[tuple[AttemptRecord, AttemptRecord]]) -> dict[str, Any]:
    a = [float(x.success) for x, _ in pairs]
    b = [float(y.success) for _, y in pairs]
    tasks = [x.task_id for x, _ in pairs]
    only_a = sum(x.success and not y.success for x, y in pairs)
    only_b = sum(y.success and not x.success for x, y in pairs)
    return {
        "pairs": len(pairs),
        "tasks": len(set(tasks)),
        "baseline": wilson(int(sum(a)), len(a)).as_dict(),
        "run": wilson(int(sum(b)), len(b)).as_dict(),
        "difference": paired_bootstrap(a, b, tasks).as_dict(),
        "passed_in_baseline_only": only_a,
        "passed_in_run_only": only_b,
        "mcnemar_p": mcnemar_exact(only_a, only_b),
    }


def _ordered(values: set[str], order: list[str]) -> list[str]:
    return [v for v in order if v in values] + sorted(values - set(order))


def compare_pair(base: RunSnapshot, other: RunSnapshot) -> dict[str, Any]:
    """One run against the baseline, paired over the attempts both graded."""
    mine = {r.attempt_key: r for r in other.attempts}
    base_records = {r.attempt_key: r for r in base.attempts}
    pairs = []
    excluded = 0
    for key, rec in base_records.items():
        theirs = mine.get(key)
        if theirs is None or not rec.graded or not theirs.graded:
            excluded += 1
            continue
        pairs.append((rec, theirs))
    excluded += sum(1 for k in mine if k not in base_records)
    cells: dict[tuple[str, str], list[tuple[AttemptRecord, AttemptRecord]]] = defaultdict(list)
    for x, y in pairs:
        cells[(x.category, x.tier)].append((x, y))
    kinds = _ordered({k for k, _ in cells}, [k.value for k in Kind])
    tiers = _ordered({t for _, t in cells}, [t.value for t in Tier])
    by_cell = [
        {"kind": k, "tier": t, **_paired(cells[(k, t)])}
        for k in kinds
        for t in tiers
        if (k, t) in cells
    ]
    flips: dict[str, list[dict[str, Any]]] = {"fixed": [], "broken": []}
    for x, y in pairs:
        if x.success == y.success:
            continue
        entry = {
            "attempt_key": x.attempt_key,
            "task_id": x.task_id,
            "sample": x.sample,
            "kind": x.category,
            "tier": x.tier,
            "baseline": _side(x),
            "run": _side(y),
        }
        flips["fixed" if y.success else "broken"].append(entry)
    return {
        "run_id": other.label,
        "run_dir": str(other.run_dir),
        "model_id": other.meta.model_id,
        "excluded_attempts": excluded,
        "overall": _paired(pairs),
        "kinds": kinds,
        "tiers": tiers,
        "by_cell": by_cell,
        "flips": flips,
    }


def compare_runs(runs: list[RunSnapshot], *, force: bool = False) -> dict[str, Any]:
    """Every run after the first against the first. UserError when they are not
    comparable (unless `force`) or share no graded attempt."""
    if len(runs) < 2:
        raise UserError("compare needs at least two runs", hint="kubebench compare RUN_A RUN_B")
    base = runs[0]
    warnings = []
    for other in runs[1:]:
        problems = comparability_problems(base, other)
        if problems and not force:
            raise UserError(
                f"{other.run_dir} is not comparable with {base.run_dir}: " + "; ".join(problems),
                hint="--force compares them anyway, over the tasks they share",
            )
        warnings += [f"{other.label}: {p}" for p in problems]
        if base.meta.shots != other.meta.shots:
            warnings.append(f"{other.label}: {other.meta.shots} shots vs {base.meta.shots}")
    comparisons = [compare_pair(base, other) for other in runs[1:]]
    for comparison in comparisons:
        if comparison["overall"]["pairs"] == 0:
            raise UserError(
                f"{comparison['run_dir']} and {base.run_dir} share no graded attempt",
                hint="compare runs over the same tasks (same --split and task filters)",
            )
    return {
        "schema_version": COMPARE_SCHEMA_VERSION,
        "baseline": {
            "run_id": base.label,
            "run_dir": str(base.run_dir),
            "model_id": base.meta.model_id,
        },
        "forced": force,
        "warnings": warnings,
        "comparisons": comparisons,
        "method": (
            "paired over attempts (task, sample) graded in both runs; difference = run − "
            "baseline success; 95 % CI by percentile bootstrap resampling tasks (10,000 "
            "resamples, seed 0); p-value: exact two-sided McNemar (binomial test of the "
            "discordant pairs)"
        ),
    }
