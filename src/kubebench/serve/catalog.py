"""The JSON API's reading side: tasks (the shipped splits), runs and their attempts
(the run store, through `report.run_reading` and `report.run_report`), and the
leaderboard (`report.leaderboard`). Runs are read again only when their files change."""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebench.errors import UserError
from kubebench.grading.expectations import describe_check
from kubebench.grading.extract import extract_yaml
from kubebench.grading.permissions import subject_text
from kubebench.report.leaderboard import build_leaderboard
from kubebench.report.run_reading import RunListing, RunSnapshot, read_run
from kubebench.report.run_report import build_report, failure_stage
from kubebench.runner.store import AttemptRecord, is_run_dir
from kubebench.scoring.judge import is_judge_score
from kubebench.serve.api_errors import ApiError
from kubebench.tasks.loader import SPLITS, get_task, load_tasks
from kubebench.tasks.schema import (
    AccessExpectation,
    Expectation,
    ObjectExpectation,
    PermissionsExpectation,
    Task,
)
from kubebench.tasks.selection import TaskSelection, select_tasks

_RUN_FILES = ("run.json", "attempts.jsonl", "scores.jsonl", "judgements.jsonl")


def page(items: list[Any], offset: int, limit: int) -> dict[str, Any]:
    """The contract's page: `{"items": [...], "total": N}`."""
    return {"items": items[offset : offset + limit], "total": len(items)}


def _diff_lines(text: str) -> list[str]:
    return [line + "\n" for line in text.splitlines()]


# -- tasks ------------------------------------------------------------------------------


def expectation_words(exp: Expectation) -> list[str]:
    """One line per check of an expectation, in the grader's words."""
    if isinstance(exp, ObjectExpectation):
        ref = exp.ref
        base = (
            exp.description
            or f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}"
        )
        if not exp.matchers:
            # A task's own description already says "exists" or "is absent".
            return [exp.description or f"{base} {'is absent' if exp.absent else 'exists'}"]
        if exp.absent:
            return [f"{base}: absent"]
        return [
            f"{base}: {m.description or f'{m.path} {m.op} {json.dumps(m.value)}'}"
            for m in exp.matchers
        ]
    if isinstance(exp, AccessExpectation):
        who = subject_text(exp.subject)
        return [f"{who} may {describe_check(c)}" for c in exp.allowed] + [
            f"{who} may not {describe_check(c)}" for c in exp.denied
        ]
    if isinstance(exp, PermissionsExpectation):
        where = ", ".join(
            f"namespace {s.namespace}" if s.namespace else "cluster-wide" for s in exp.scopes
        )
        return [
            exp.description
            or f"{subject_text(exp.subject)} has exactly the requested permissions ({where})"
        ]
    allowed = ", ".join(subject_text(a) for a in exp.allowed) or "nobody"
    return [exp.description or f"only {allowed} gain access"]


def _split_of(task: Task) -> str:
    return "dev" if task.id.startswith("dev-") else "test"


def task_item(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "kind": task.category.value,
        "tier": task.tier.value,
        "operation": task.operation.value,
        "split": _split_of(task),
        "prompt": task.prompt[:200],
    }


def list_tasks(
    split: str | None, kind: str | None, tier: str | None, operation: str | None, q: str | None
) -> list[dict[str, Any]]:
    """Tasks of a split, filtered as `kubebench run --kind/--tier` filters, then by
    operation and a case-insensitive text in id, prompt or tags."""
    try:
        tasks = load_tasks(split) if split else load_tasks()
        selection = TaskSelection(kinds=(kind,) if kind else (), tiers=(tier,) if tier else ())
        chosen = select_tasks(tasks, selection)
    except UserError as exc:
        if exc.message.startswith("no task matches"):
            return []
        raise ApiError(400, exc.one_line()) from None
    if operation:
        chosen = [t for t in chosen if t.operation.value == operation]
    if q:
        needle = q.lower()
        chosen = [
            t
            for t in chosen
            if needle in t.id.lower()
            or needle in t.prompt.lower()
            or any(needle in tag.lower() for tag in t.tags)
        ]
    return [task_item(t) for t in chosen]


@functools.cache
def task_facets() -> dict[str, list[str]]:
    """Every value each task filter can take, over all shipped tasks (so a filter's
    drop-down does not shrink to the current page)."""
    items = [task_item(t) for split in SPLITS for t in load_tasks(split)]
    return {
        name: sorted({item[name] for item in items})
        for name in ("kind", "tier", "operation", "split")
    }


def find_task(task_id: str) -> Task:
    try:
        return get_task(task_id)
    except UserError as exc:
        raise ApiError(404, exc.one_line()) from None


def task_detail(task_id: str) -> dict[str, Any]:
    task = find_task(task_id)
    words = [line for exp in task.expectations for line in expectation_words(exp)]
    return {
        **task_item(task),
        "prompt": task.prompt,
        "allowed_kinds": task.allowed_kinds,
        "namespaces": task.namespaces,
        "tags": task.tags,
        "expectations": words,
        "reference": task.reference,
    }


# -- runs -------------------------------------------------------------------------------


def _fingerprint(run_dir: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for name in _RUN_FILES:
        try:
            st = (run_dir / name).stat()
        except FileNotFoundError:
            continue
        out.append((name, st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass
class _CachedRun:
    fingerprint: tuple[tuple[str, int, int], ...]
    snapshot: RunSnapshot
    report: dict[str, Any]


def attempt_id(rec: AttemptRecord) -> str:
    """An attempt's id in URLs: `<task id>.<sample>` (no `#`, which a URL would cut)."""
    return f"{rec.task_id}.{rec.sample}"


class RunCatalog:
    """The runs under one folder, each read once per change of its files."""

    def __init__(self, runs_dir: Path | None) -> None:
        self.runs_dir = runs_dir
        self._cache: dict[Path, _CachedRun] = {}
        self._board: tuple[tuple[Any, ...], dict[str, Any] | None] | None = None

    def _run_dirs(self) -> list[Path]:
        if self.runs_dir is None:
            raise ApiError(404, "this server has no runs folder (start it with --runs DIR)")
        if not self.runs_dir.is_dir():
            return []
        if is_run_dir(self.runs_dir):
            return [self.runs_dir]
        return sorted(p for p in self.runs_dir.iterdir() if p.is_dir() and is_run_dir(p))

    def _read(self, run_dir: Path) -> _CachedRun | None:
        fingerprint = _fingerprint(run_dir)
        cached = self._cache.get(run_dir)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        try:
            snapshot = read_run(run_dir)
        except (UserError, OSError, ValueError):
            return None  # a folder that is not (yet) a readable run is left out
        cached = _CachedRun(fingerprint, snapshot, build_report(snapshot, text_metrics=False))
        self._cache[run_dir] = cached
        return cached

    def runs(self) -> list[_CachedRun]:
        found = [run for d in self._run_dirs() if (run := self._read(d)) is not None]
        return sorted(found, key=lambda r: r.snapshot.meta.created_at, reverse=True)

    def run(self, run_id: str) -> _CachedRun:
        for run in self.runs():
            if run_id in (run.snapshot.label, run.snapshot.run_dir.name):
                return run
        raise ApiError(404, f"no run {run_id!r} in the runs folder")

    def listing(self) -> RunListing:
        return RunListing([r.snapshot for r in self.runs()], [])

    def leaderboard(self) -> dict[str, Any] | None:
        """`build_leaderboard` over the runs, built again only when a run changed."""
        runs = self.runs()
        key = tuple((r.snapshot.run_dir, r.fingerprint) for r in runs)
        if self._board is None or self._board[0] != key:
            board = build_leaderboard(RunListing([r.snapshot for r in runs], [])) if runs else None
            self._board = (key, board)
        return self._board[1]


def run_item(run: _CachedRun) -> dict[str, Any]:
    meta, rates = run.snapshot.meta, run.report["rates"]
    return {
        "run_id": run.snapshot.label,
        "model": meta.model_id,
        "split": meta.split,
        "tasks": len(meta.task_ids),
        "samples": meta.samples,
        "success_rate": rates["success"]["rate"],
        "runtime_valid_rate": rates["runtime_valid"]["rate"],
        "operational_valid_rate": rates["operational_valid"]["rate"],
        "created": meta.created_at,
        "complete": run.report["status"]["missing"] == 0,
    }


def run_detail(run: _CachedRun) -> dict[str, Any]:
    report = run.report
    heatmap: dict[str, dict[str, float | None]] = {}
    for cell in report["heatmap"]["cells"]:
        heatmap.setdefault(cell["kind"], {})[cell["tier"]] = cell["rate"]
    return {
        **run_item(run),
        "rates": report["rates"],
        "status": report["status"],
        "provenance": report["provenance"],
        "heatmap": heatmap,
        "failure_stages": report["failure_stages"],
        "pass_k": report["pass_k"],
        "costs": report["costs"],
    }


def attempt_item(rec: AttemptRecord) -> dict[str, Any]:
    return {
        "attempt_id": attempt_id(rec),
        "task_id": rec.task_id,
        "kind": rec.category,
        "tier": rec.tier,
        "sample": rec.sample,
        "passed": rec.success,
        "stage": failure_stage(rec) or "passed",
    }


def list_attempts(
    run: _CachedRun, kind: str | None, tier: str | None, passed: bool | None
) -> list[dict[str, Any]]:
    out = []
    for rec in run.snapshot.attempts:
        if kind and rec.category.lower() != kind.lower():
            continue
        if tier and rec.tier.lower() != tier.lower():
            continue
        if passed is not None and rec.success != passed:
            continue
        out.append(attempt_item(rec))
    return out


def attempt_detail(run: _CachedRun, ident: str) -> dict[str, Any]:
    rec = next((r for r in run.snapshot.attempts if attempt_id(r) == ident), None)
    if rec is None:
        raise ApiError(404, f"no attempt {ident!r} in run {run.snapshot.label}")
    extracted = "\n---\n".join(b.text.strip("\n") for b in extract_yaml(rec.answer).blocks)
    try:
        reference: str | None = get_task(rec.task_id).reference
    except UserError:
        reference = None
    diff = ""
    if reference is not None:
        # Both sides end with a newline, or difflib glues a last line to the next one.
        lines = difflib.unified_diff(
            _diff_lines(extracted or rec.answer),
            _diff_lines(reference),
            fromfile="answer",
            tofile="reference",
        )
        diff = "".join(lines)
    verdict = rec.verdict
    scores = run.snapshot.scores.get(rec.attempt_key, {})
    judge = [
        {
            "scorer": key,
            "score": score.value,
            "overall_score": score.metadata.get("overall_score"),
            "rationale": score.explanation,
        }
        for key, score in scores.items()
        if is_judge_score(score.name)
    ]
    return {
        **attempt_item(rec),
        "model": rec.model_id,
        "messages": [m.model_dump() for m in rec.messages],
        "answer": rec.answer,
        "extracted_yaml": extracted,
        "reason": verdict.reason if verdict else rec.infrastructure_error,
        "runtime_valid": rec.runtime_valid,
        "operational_valid": rec.operational_valid,
        "documents": [d.model_dump() for d in verdict.documents] if verdict else [],
        "expectations": [
            {
                "description": e.description,
                "kind": e.kind,
                "passed": e.passed,
                "reason": e.reason,
                "observed": e.observed,
            }
            for e in (verdict.expectations if verdict else [])
        ],
        "judge": judge,
        "scores": {key: score.value for key, score in scores.items()},
        "reference": reference,
        "diff": diff,
        "infrastructure_error": rec.infrastructure_error,
        "prompt_tokens": rec.prompt_tokens,
        "completion_tokens": rec.completion_tokens,
        "latency_s": rec.latency_s,
    }


def leaderboard_items(catalog: RunCatalog) -> list[dict[str, Any]]:
    """The leaderboard's rows, every table's, flattened (each row says its table)."""
    board = catalog.leaderboard()
    if board is None:
        return []
    items = []
    for number, table in enumerate(board["tables"]):
        for row in table["rows"]:
            low, high = row["success"]["ci95"]
            items.append(
                {
                    "model": row["model_id"],
                    "config": row["configuration_label"],
                    "configuration": row["configuration"],
                    "tasks": table["key"]["tasks"],
                    "split": table["key"]["split"],
                    "table": number,
                    "rank": row["rank"],
                    "success_rate": row["success"]["rate"],
                    "ci_low": low,
                    "ci_high": high,
                    "runtime_valid_rate": row["runtime_valid"]["rate"],
                    "operational_valid_rate": row["operational_valid"]["rate"],
                    "complete": row["complete"],
                    "run_ids": [row["run_id"]],
                    "superseded_runs": table["superseded_runs"],
                }
            )
    return items
