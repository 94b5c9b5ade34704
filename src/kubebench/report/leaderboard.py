"""The leaderboard: one row per model and configuration, one table per set of comparable
runs (same split, task-set hash, prompt version and tasks).

The JSON form is the contract the web UI reads: `schema_version`, then `tables`, each
with its `key` (what makes its runs comparable) and `rows` sorted by success rate.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from kubebench.report.run_reading import RunListing, RunSnapshot
from kubebench.report.run_report import build_report

LEADERBOARD_SCHEMA_VERSION = 1


def table_key(run: RunSnapshot) -> dict[str, Any]:
    """What runs must share to be ranked together."""
    m = run.meta
    tasks = hashlib.sha256("\n".join(sorted(m.task_ids)).encode()).hexdigest()
    return {
        "split": m.split,
        "task_set_hash": m.task_set_hash,
        "prompt_version": m.prompt_version,
        "tasks": len(m.task_ids),
        "task_ids_hash": tasks,
    }


def configuration(run: RunSnapshot) -> dict[str, Any]:
    """What besides the model tells two runs' rows apart."""
    m = run.meta
    return {
        **m.generation.model_dump(mode="json", exclude={"stop"}),
        "shots": m.shots,
        "samples": m.samples,
        "judge_id": m.judge_id,
    }


def _config_label(config: dict[str, Any]) -> str:
    parts = [
        f"T={config['temperature']}",
        f"top_p={config['top_p']}",
        f"max_tokens={config['max_tokens']}",
        f"shots={config['shots']}",
        f"samples={config['samples']}",
    ]
    if config["seed"] is not None:
        parts.append(f"seed={config['seed']}")
    if config["judge_id"]:
        parts.append(f"judge={config['judge_id']}")
    return ", ".join(parts)


def leaderboard_row(run: RunSnapshot) -> dict[str, Any]:
    """One run's row."""
    data = build_report(run, text_metrics=False)
    config = configuration(run)
    judges = data["judge_details"]
    criterion_scores = [
        (mean, j["scored"]) for j in judges for mean in j["criterion_means"].values()
    ]
    overall = [j["overall_score_mean"] for j in judges if j["overall_score_mean"] is not None]
    p = data["provenance"]
    return {
        "model_id": run.meta.model_id,
        "configuration": config,
        "configuration_label": _config_label(config),
        "run_id": run.label,
        "run_dir": str(run.run_dir),
        "complete": data["status"]["missing"] == 0,
        "attempts": data["status"],
        "success": data["rates"]["success"],
        "runtime_valid": data["rates"]["runtime_valid"],
        "operational_valid": data["rates"]["operational_valid"],
        "judge_mean": (
            sum(m for m, _ in criterion_scores) / len(criterion_scores)
            if criterion_scores
            else None
        ),
        "overall_score": overall[0] if overall else None,
        "judge_id": judges[0]["judge_id"] if judges else None,
        "pass_at_k": {str(pk["k"]): pk["pass_at_k"] for pk in data["pass_k"]},
        "pass_hat_k": {str(pk["k"]): pk["pass_hat_k"] for pk in data["pass_k"]},
        "format_error_rate": data["format_errors"],
        "tokens_per_task": data["costs"]["tokens_per_task"],
        "seconds_per_task": data["costs"]["seconds_per_task"],
        "date": p["created_at"],
        "kubebench_version": p["kubebench_version"],
        "git_revision": p["git_revision"],
        "command": p["command"],
        "command_recorded": p["command_recorded"],
    }


def build_leaderboard(listing: RunListing) -> dict[str, Any]:
    """Tables of comparable runs; within a table the latest run of each model and
    configuration makes its row (earlier ones are listed as superseded)."""
    groups: dict[str, list[RunSnapshot]] = defaultdict(list)
    keys: dict[str, dict[str, Any]] = {}
    for run in listing.runs:
        key = table_key(run)
        name = (
            f"{key['split']}|{key['task_set_hash']}|{key['prompt_version']}|{key['task_ids_hash']}"
        )
        groups[name].append(run)
        keys[name] = key
    tables = []
    for name, runs in groups.items():
        latest: dict[str, RunSnapshot] = {}
        superseded: list[str] = []
        for run in sorted(runs, key=lambda r: r.meta.created_at):
            ident = f"{run.meta.model_id}|{sorted(configuration(run).items())}"
            if ident in latest:
                superseded.append(latest[ident].label)
            latest[ident] = run
        rows = [leaderboard_row(run) for run in latest.values()]
        rows.sort(key=lambda r: (-(r["success"]["rate"] or 0.0), r["model_id"]))
        for rank, row in enumerate(rows, start=1):
            row["rank"] = rank
        tables.append({"key": keys[name], "rows": rows, "superseded_runs": superseded})
    tables.sort(key=lambda t: (-len(t["rows"]), t["key"]["split"], -t["key"]["tasks"]))
    return {
        "schema_version": LEADERBOARD_SCHEMA_VERSION,
        "tables": tables,
        "skipped": [{"path": str(p), "reason": why} for p, why in listing.skipped],
        "notes": [
            "rates are over graded attempts; 95 % intervals are Wilson score intervals",
            "only runs with the same split, task-set hash, prompt version and tasks share a table",
        ],
    }
