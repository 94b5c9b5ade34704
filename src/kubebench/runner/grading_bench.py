"""`kubebench bench grading`: the oracle's answers through the whole attempt pipeline
(generation double, extraction, dry-run, apply, checks, cleanup) on an embedded control
plane, timed next to the kubectl-per-task baseline on the same plane and tasks."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.progress import Progress
from rich.table import Table

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.models.base import GenerationConfig
from kubebench.models.doubles import OracleProvider
from kubebench.runner.kubectl_baseline import BaselineResult, run_kubectl_baseline
from kubebench.runner.pipeline import AttemptPipeline, Concurrency, GradeFn, PlannedAttempt
from kubebench.runner.records import AttemptRecord
from kubebench.tasks.schema import Task


@dataclass
class GradingBenchResult:
    """Figures of one `bench grading` run."""

    tasks: int
    seconds: float
    concurrency: int
    passed: int
    infrastructure_errors: int
    failures: list[tuple[str, str]]  # (task id, reason)
    stage_seconds: dict[str, float]  # summed over verdicts' timings
    kubernetes_version: str
    cpu_count: int
    baseline: BaselineResult | None = None
    # The same baseline with `kubectl delete --wait=false`: about 80 % of the default
    # baseline's time is kubectl waiting for namespaces to be finalized.
    baseline_no_wait: BaselineResult | None = None
    baseline_task_ids: list[str] = field(default_factory=list)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)
    api_requests: dict[str, int] = field(default_factory=dict)  # by method, during grading
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by process, during grading

    @property
    def attempts_per_s(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0

    @property
    def speedup(self) -> float | None:
        if self.baseline is None or not self.baseline.attempts_per_s:
            return None
        return self.attempts_per_s / self.baseline.attempts_per_s

    @property
    def speedup_no_wait(self) -> float | None:
        if self.baseline_no_wait is None or not self.baseline_no_wait.attempts_per_s:
            return None
        return self.attempts_per_s / self.baseline_no_wait.attempts_per_s

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "tasks": self.tasks,
            "seconds": self.seconds,
            "attempts_per_s": self.attempts_per_s,
            "concurrency": self.concurrency,
            "passed": self.passed,
            "infrastructure_errors": self.infrastructure_errors,
            "failures": self.failures,
            "stage_seconds": self.stage_seconds,
            "kubernetes_version": self.kubernetes_version,
            "cpu_count": self.cpu_count,
            "slowest": self.slowest,
            "cleanup_errors": self.cleanup_errors,
            "api_requests": self.api_requests,
            "cpu_seconds": self.cpu_seconds,
            "speedup": self.speedup,
            "speedup_no_wait": self.speedup_no_wait,
        }
        for key, base in (("baseline", self.baseline), ("baseline_no_wait", self.baseline_no_wait)):
            if base is not None:
                data[key] = {
                    "tasks": len(base.attempts),
                    "seconds": base.seconds,
                    "attempts_per_s": base.attempts_per_s,
                    "passed": base.passed,
                    "kubectl_calls": base.kubectl_calls,
                    "step_seconds": dict(base.step_seconds),
                    "failures": [(a.task_id, a.reason) for a in base.attempts if not a.passed],
                }
        return json.dumps(data, indent=2)


def spread(tasks: list[Task], n: int | None) -> list[Task]:
    """`n` tasks spread evenly over the list (every kind and tier, not the first cell)."""
    if n is None or n >= len(tasks):
        return list(tasks)
    if n <= 0:
        return []
    step = len(tasks) / n
    return [tasks[int(i * step)] for i in range(n)]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(plane: ControlPlane) -> dict[str, float]:
    snapshot = {"kubebench (this process)": time.process_time()}
    for name, pid in plane.pids.items():
        if (seconds := process_cpu_seconds(pid)) is not None:
            snapshot[name] = seconds
    return snapshot


@dataclass
class _Measured:
    records: list[AttemptRecord]
    seconds: float
    version: str
    cleanup_errors: list[str]
    requests: Counter[str]
    cpu_seconds: dict[str, float]


def _count_requests(kube: KubeClient, counts: Counter[str]) -> None:
    """Count the client's API requests by method (instrumentation for the figures)."""
    send = kube.request

    async def counted(method: str, path: str, **kwargs: Any) -> Any:
        counts[method] += 1
        if path.endswith("/subjectaccessreviews"):
            counts["SubjectAccessReview"] += 1
        elif path.endswith("/selfsubjectrulesreviews"):
            counts["SelfSubjectRulesReview"] += 1
        elif kwargs.get("params", {}).get("dryRun"):
            counts[f"{method} dry-run"] += 1
        return await send(method, path, **kwargs)

    kube.request = counted  # type: ignore[method-assign]


async def _grade_all(
    plane: ControlPlane,
    tasks: list[Task],
    concurrency: int,
    grade: GradeFn,
    on_record: Any,
) -> _Measured:
    from kubebench.grading.pipeline import settle_cleanups as settle

    records: list[AttemptRecord] = []
    requests: Counter[str] = Counter()
    async with KubeClient(plane.connection, max_connections=max(64, 4 * concurrency)) as kube:
        version = str((await kube.version()).get("gitVersion", ""))
        await kube.discover()  # warm once, as a long run would be
        _count_requests(kube, requests)
        pipeline = AttemptPipeline(
            provider=OracleProvider(),
            generation=GenerationConfig(),
            messages_for=lambda task: [],
            grade=grade,
            kube=kube,
            store_append=records.append,
            on_record=on_record,
            concurrency=Concurrency(generation=concurrency, grading=concurrency),
        )
        cpu_before = _cpu_snapshot(plane)
        started = time.monotonic()
        await pipeline.run([PlannedAttempt(task, 0) for task in tasks])
        # Cleanup is part of grading: the clock stops when every object is gone.
        cleanup_errors = await settle(kube)
        seconds = time.monotonic() - started
        cpu_after = _cpu_snapshot(plane)
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after if name in cpu_before}
    return _Measured(records, seconds, version, cleanup_errors, requests, cpu)


def run_grading_bench(
    plane: ControlPlane,
    *,
    limit: int | None,
    baseline_limit: int,
    concurrency: int,
    kubectl: str | None,
    progress: Progress | None = None,
    tasks: list[Task] | None = None,
    grade: GradeFn | None = None,
) -> GradingBenchResult:
    """Grade the oracle on `limit` test tasks (all by default), then run the kubectl
    baseline on `baseline_limit` of them, on the same control plane."""
    if tasks is None:
        from kubebench.tasks.loader import load_tasks

        tasks = load_tasks(split="test")
    if grade is None:
        from kubebench.grading.pipeline import grade_answer

        grade = grade_answer
    chosen = spread(tasks, limit)
    bar = progress.add_task("kubebench", total=len(chosen)) if progress else None

    def advance(_: object = None) -> None:
        if progress is not None and bar is not None:
            progress.advance(bar)

    measured = asyncio.run(_grade_all(plane, chosen, concurrency, grade, advance))
    records = measured.records
    stage_seconds: dict[str, float] = defaultdict(float)
    for rec in records:
        for name, value in (rec.verdict.timings if rec.verdict else {}).items():
            stage_seconds[name] += value
    totals = sorted(
        ((r.task_id, r.timings.get("grading_s", 0.0)) for r in records),
        key=lambda kv: -kv[1],
    )
    result = GradingBenchResult(
        tasks=len(records),
        seconds=measured.seconds,
        concurrency=concurrency,
        passed=sum(r.success for r in records),
        infrastructure_errors=sum(r.infrastructure_error is not None for r in records),
        failures=[
            (r.task_id, r.infrastructure_error or (r.verdict.reason if r.verdict else ""))
            for r in records
            if not r.success
        ],
        stage_seconds=dict(stage_seconds),
        kubernetes_version=measured.version,
        cpu_count=os.cpu_count() or 0,
        slowest=totals[:5],
        cleanup_errors=measured.cleanup_errors,
        api_requests=dict(measured.requests),
        cpu_seconds=measured.cpu_seconds,
    )
    if kubectl and baseline_limit:
        subset = spread(chosen, baseline_limit)
        assert plane.kubeconfig_path is not None
        for wait in (True, False):
            label = "kubectl baseline" + ("" if wait else " --wait=false")
            base_bar = progress.add_task(label, total=len(subset)) if progress else None

            def advance_base(bar: Any = base_bar) -> None:
                if progress is not None and bar is not None:
                    progress.advance(bar)

            baseline = run_kubectl_baseline(
                kubectl,
                plane.kubeconfig_path,
                [(task, task.reference) for task in subset],
                on_attempt=advance_base,
                wait=wait,
            )
            if wait:
                result.baseline = baseline
            else:
                result.baseline_no_wait = baseline
        result.baseline_task_ids = [t.id for t in subset]
    return result


def render_grading_bench(result: GradingBenchResult) -> RenderableType:
    """The figures as tables: throughput side by side, then where the time went."""
    table = Table(title="kubebench bench grading", title_justify="left")
    table.add_column("grader")
    for name in ("tasks", "passed", "seconds", "attempts/s"):
        table.add_column(name, justify="right")
    table.add_row(
        f"kubebench (concurrency {result.concurrency})",
        str(result.tasks),
        str(result.passed),
        f"{result.seconds:.2f}",
        f"{result.attempts_per_s:.2f}",
    )
    for label, b in (
        ("kubectl per task (CloudEval-YAML way)", result.baseline),
        ("kubectl per task, delete --wait=false", result.baseline_no_wait),
    ):
        if b is not None:
            table.add_row(
                label,
                str(len(b.attempts)),
                str(b.passed),
                f"{b.seconds:.2f}",
                f"{b.attempts_per_s:.2f}",
            )
    parts: list[RenderableType] = [table]
    facts = Table(show_header=False, title="context", title_justify="left")
    facts.add_column("measure")
    facts.add_column("value", justify="right")
    if result.speedup is not None:
        facts.add_row("speed-up over kubectl", f"{result.speedup:.1f}×")
    if result.speedup_no_wait is not None:
        facts.add_row("speed-up over kubectl --wait=false", f"{result.speedup_no_wait:.1f}×")
    facts.add_row("infrastructure errors", str(result.infrastructure_errors))
    facts.add_row("cleanup errors", str(len(result.cleanup_errors)))
    facts.add_row("Kubernetes", result.kubernetes_version)
    facts.add_row("CPU cores", str(result.cpu_count))
    if result.tasks:
        facts.add_row(
            "projected time for 810 tasks (s)", f"{810 / max(result.attempts_per_s, 1e-9):.1f}"
        )
    if result.api_requests:
        per = {k: v / max(result.tasks, 1) for k, v in sorted(result.api_requests.items())}
        text = ", ".join(f"{k} {v:.1f}" for k, v in per.items())
        facts.add_row("API requests per attempt", text)
    for name, seconds in result.cpu_seconds.items():
        share = seconds / result.seconds if result.seconds else 0.0
        facts.add_row(f"CPU s: {name}", f"{seconds:.1f} ({share:.2f} cores)")
    parts.append(facts)
    if result.stage_seconds:
        stages = Table(title="grader time by stage (summed over attempts)", title_justify="left")
        stages.add_column("stage")
        stages.add_column("total s", justify="right")
        stages.add_column("mean ms / attempt", justify="right")
        ranked = sorted(result.stage_seconds.items(), key=lambda kv: -kv[1])
        for name, total in [kv for kv in ranked if kv[0] != "total"] + [
            kv for kv in ranked if kv[0] == "total"
        ]:
            if name == "total":
                stages.add_section()
            stages.add_row(name, f"{total:.2f}", f"{1000 * total / max(result.tasks, 1):.1f}")
        parts.append(stages)
    if result.baseline is not None and result.baseline.step_seconds:
        steps = Table(title="kubectl baseline time by step", title_justify="left")
        steps.add_column("step")
        steps.add_column("total s", justify="right")
        no_wait = result.baseline_no_wait.step_seconds if result.baseline_no_wait else None
        if no_wait is not None:
            steps.add_column("--wait=false", justify="right")
        for name, total in sorted(result.baseline.step_seconds.items(), key=lambda kv: -kv[1]):
            extra = [f"{no_wait.get(name, 0.0):.2f}"] if no_wait is not None else []
            steps.add_row(name, f"{total:.2f}", *extra)
        parts.append(steps)
    if result.failures:
        fails = Table(title=f"{len(result.failures)} oracle failures", title_justify="left")
        fails.add_column("task")
        fails.add_column("reason")
        for task_id, reason in result.failures[:20]:
            fails.add_row(task_id, reason)
        parts.append(fails)
    return Group(*parts)
