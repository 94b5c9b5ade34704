"""`kubebench run` as a library call: the request from the command's options, the
checks on `--resume`, the run against a cluster, and the tallies its progress shows.

The CLI only parses options, shows progress and prints; everything a run decides is
here and in kubebench.runner.launch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubebench import defaults
from kubebench.cluster.kubeconfig import Connection
from kubebench.errors import UserError
from kubebench.models.base import GenerationConfig
from kubebench.runner.launch import PreparedRun, RunRequest, run_sync
from kubebench.runner.pipeline import Concurrency
from kubebench.runner.records import AttemptRecord
from kubebench.runner.store import RunStore
from kubebench.tasks.selection import TaskSelection


@dataclass
class PlanOptions:
    """What a new run does: `kubebench run`'s plan flags, None where not given."""

    model: str | None = None
    split: str | None = None
    kinds: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    task_ids: tuple[str, ...] = ()
    limit: int | None = None
    stratified: int | None = None
    samples: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    shots: int | None = None
    judge: str | None = None
    scorers: tuple[str, ...] = ()
    run_id: str | None = None

    def given_flags(self) -> list[str]:
        return [flag for name, flag in _FLAGS.items() if getattr(self, name) not in (None, ())]


# The flag of each PlanOptions field, for the one-line refusal on --resume.
_FLAGS = {
    "model": "--model",
    "split": "--split",
    "kinds": "--kind",
    "tiers": "--tier",
    "task_ids": "--task",
    "limit": "--limit",
    "stratified": "--stratified",
    "samples": "--samples",
    "temperature": "--temperature",
    "top_p": "--top-p",
    "seed": "--seed",
    "max_tokens": "--max-tokens",
    "shots": "--shots",
    "judge": "--judge",
    "scorers": "--scorer",
    "run_id": "--run-id",
}


def refuse_plan_on_resume(plan: PlanOptions) -> None:
    """UserError when plan flags come with --resume (a resumed run keeps its settings)."""
    given = plan.given_flags()
    if given:
        raise UserError(
            f"--resume continues a run with its recorded settings; drop {', '.join(given)}",
            hint="start a new run to change them",
        )


def run_request(plan: PlanOptions, out_dir: Path) -> tuple[RunRequest, list[str]]:
    """The request of a new run, and warnings worth printing before it starts."""
    base = GenerationConfig()
    generation = GenerationConfig(
        temperature=base.temperature if plan.temperature is None else plan.temperature,
        top_p=base.top_p if plan.top_p is None else plan.top_p,
        max_tokens=base.max_tokens if plan.max_tokens is None else plan.max_tokens,
        seed=plan.seed,
    )
    warnings = []
    if (plan.samples or 1) > 1 and generation.temperature == 0:
        warnings.append(
            "--samples > 1 with temperature 0: greedy samples repeat one answer, so pass@k "
            "equals pass@1 (set --temperature)"
        )
    model_id = plan.model or getattr(defaults, "DEFAULT_MODEL", None)
    if not model_id:
        raise UserError("no default model is configured", hint="pass --model provider:name")
    request = RunRequest(
        model_id=model_id,
        split=plan.split or "test",
        selection=TaskSelection(
            kinds=plan.kinds,
            tiers=plan.tiers,
            task_ids=plan.task_ids,
            stratified=plan.stratified,
            limit=plan.limit,
            seed=defaults.STRATIFIED_SEED if plan.seed is None else plan.seed,
        ),
        samples=plan.samples or 1,
        generation=generation,
        shots=plan.shots or 0,
        judge_id=plan.judge,
        scorers=plan.scorers,
        out_dir=out_dir,
        run_id=plan.run_id,
    )
    return request, warnings


@dataclass
class RunTally:
    """The counts a run's progress shows: attempts recorded, graded, passed, infra."""

    done: int = 0
    graded: int = 0
    success: int = 0
    infra: int = 0

    @classmethod
    def of(cls, records: list[AttemptRecord]) -> RunTally:
        tally = cls()
        for rec in records:
            tally.add(rec)
        return tally

    def add(self, rec: AttemptRecord) -> None:
        self.done += 1
        self.graded += rec.graded
        self.success += rec.success
        self.infra += not rec.graded

    def pass_text(self) -> str:
        rate = f"{100 * self.success / self.graded:.1f} %" if self.graded else "—"
        infra = f"  infra errors {self.infra}" if self.infra else ""
        return f"pass {rate}{infra}"


@dataclass
class ClusterOptions:
    """Where and how fast a run grades: `--kubeconfig/--context`, concurrency, cache."""

    kubeconfig: Path | None = None
    context: str | None = None
    allow_external_writes: bool = False
    concurrency: int = defaults.GENERATION_CONCURRENCY
    grading_concurrency: int = defaults.GRADING_CONCURRENCY
    use_cache: bool = True

    def starts_a_cluster(self) -> bool:
        """True when no cluster is named or running: the run starts an embedded one."""
        from kubebench.cluster.session import running_connection

        named = self.kubeconfig is not None or self.context is not None
        return not named and running_connection() is None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A writable connection to the cluster (one started for the run, if need be)."""
        from kubebench.cluster.session import cluster_connection

        with cluster_connection(
            self.kubeconfig, self.context, allow_external_writes=self.allow_external_writes
        ) as conn:
            yield conn


def execute_benchmark(
    prepared: PreparedRun,
    conn: Connection,
    options: ClusterOptions,
    on_record: Callable[[AttemptRecord], None] = lambda _: None,
) -> RunStore:
    """Run the prepared attempts on the cluster at `conn` (from `options.connect()`);
    the store comes back open."""
    return run_sync(
        prepared,
        conn,
        concurrency=Concurrency(
            generation=options.concurrency,
            grading=options.grading_concurrency,
            judging=options.concurrency,
        ),
        use_cache=options.use_cache,
        on_record=on_record,
    )
