"""Which tasks a run attempts: filters by kind, tier and id, a seeded stratified sample,
and a limit."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from kubebench.errors import UserError
from kubebench.tasks.schema import Kind, Task, Tier


@dataclass(frozen=True)
class TaskSelection:
    """The user's choice of tasks, as given on the command line."""

    kinds: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    task_ids: tuple[str, ...] = ()
    stratified: int | None = None  # tasks per kind × tier cell
    limit: int | None = None
    seed: int = 0  # seeds the stratified sample

    def as_dict(self) -> dict[str, Any]:
        """The non-default filters, for run.json."""
        out: dict[str, Any] = {}
        for key in ("kinds", "tiers", "task_ids"):
            if value := getattr(self, key):
                out[key] = list(value)
        if self.stratified is not None:
            out["stratified"] = self.stratified
            out["stratified_seed"] = self.seed
        if self.limit is not None:
            out["limit"] = self.limit
        return out


def _canonical(values: tuple[str, ...], enum: type[Kind] | type[Tier], flag: str) -> set[str]:
    by_lower = {member.value.lower(): member.value for member in enum}
    out = set()
    for value in values:
        if value.lower() not in by_lower:
            raise UserError(
                f"unknown {flag} {value!r}", hint=f"choose from {', '.join(by_lower.values())}"
            )
        out.add(by_lower[value.lower()])
    return out


def select_tasks(tasks: list[Task], selection: TaskSelection) -> list[Task]:
    """The tasks to attempt, in the task file's order. UserError when nothing matches or
    a named task does not exist."""
    kinds = _canonical(selection.kinds, Kind, "--kind")
    tiers = _canonical(selection.tiers, Tier, "--tier")
    chosen = tasks
    if selection.task_ids:
        known = {t.id for t in tasks}
        missing = [tid for tid in selection.task_ids if tid not in known]
        if missing:
            raise UserError(
                f"no task with id {', '.join(missing)} in this split",
                hint="`kubebench tasks list` shows the ids",
            )
        wanted = set(selection.task_ids)
        chosen = [t for t in chosen if t.id in wanted]
    if kinds:
        chosen = [t for t in chosen if t.category.value in kinds]
    if tiers:
        chosen = [t for t in chosen if t.tier.value in tiers]
    if selection.stratified is not None:
        chosen = stratified_sample(chosen, selection.stratified, seed=selection.seed)
    if selection.limit is not None:
        chosen = chosen[: selection.limit]
    if not chosen:
        raise UserError("no task matches the given filters", hint="loosen --kind/--tier/--task")
    return chosen


def stratified_sample(tasks: list[Task], per_cell: int, *, seed: int) -> list[Task]:
    """Up to `per_cell` tasks from every (kind, tier) cell, drawn with a seeded RNG;
    the result keeps the input order."""
    cells: dict[tuple[str, str], list[Task]] = {}
    for task in tasks:
        cells.setdefault((task.category.value, task.tier.value), []).append(task)
    rng = random.Random(f"kubebench-stratified:{seed}")
    picked: set[str] = set()
    for cell in sorted(cells):
        members = sorted(cells[cell], key=lambda t: t.id)
        picked.update(t.id for t in rng.sample(members, min(per_cell, len(members))))
    return [t for t in tasks if t.id in picked]
