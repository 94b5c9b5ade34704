"""Task selection: filters, seeded stratified sampling, limits."""

from __future__ import annotations

import pytest

from kubebench.errors import UserError
from kubebench.tasks.schema import Kind, Tier
from kubebench.tasks.selection import TaskSelection, select_tasks
from tests.runner.records_factory import make_task

TASKS = [
    make_task(f"{kind.value.lower()}-{tier.value}-{i}", kind, tier)
    for kind in (Kind.ConfigMap, Kind.Secret)
    for tier in (Tier.basic, Tier.advanced)
    for i in range(5)
]


def test_filters_by_kind_tier_and_id_case_insensitively() -> None:
    got = select_tasks(TASKS, TaskSelection(kinds=("secret",), tiers=("ADVANCED",)))
    assert {(t.category, t.tier) for t in got} == {(Kind.Secret, Tier.advanced)}
    assert len(got) == 5
    ids = ("configmap-basic-1", "secret-basic-2")
    assert [t.id for t in select_tasks(TASKS, TaskSelection(task_ids=ids))] == list(ids)


def test_stratified_takes_n_per_cell_reproducibly_and_keeps_order() -> None:
    first = select_tasks(TASKS, TaskSelection(stratified=2, seed=7))
    again = select_tasks(TASKS, TaskSelection(stratified=2, seed=7))
    other = select_tasks(TASKS, TaskSelection(stratified=2, seed=8))
    assert [t.id for t in first] == [t.id for t in again]
    assert len(first) == 8
    cells = [(t.category, t.tier) for t in first]
    assert all(cells.count(cell) == 2 for cell in set(cells))
    assert [t.id for t in first] == [t.id for t in TASKS if t in first]  # input order
    assert [t.id for t in first] != [t.id for t in other]  # the seed matters


def test_limit_applies_after_filters() -> None:
    got = select_tasks(TASKS, TaskSelection(kinds=("Secret",), limit=3))
    assert [t.id for t in got] == ["secret-basic-0", "secret-basic-1", "secret-basic-2"]


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (TaskSelection(kinds=("Pod",)), "unknown --kind"),
        (TaskSelection(tiers=("expert",)), "unknown --tier"),
        (TaskSelection(task_ids=("nope",)), "no task with id nope"),
        (TaskSelection(kinds=("Role",)), "no task matches"),
    ],
)
def test_bad_selections_are_user_errors(selection: TaskSelection, message: str) -> None:
    with pytest.raises(UserError, match=message):
        select_tasks(TASKS, selection)
