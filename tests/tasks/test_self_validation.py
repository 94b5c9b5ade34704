"""Self-validation of the splits on the real control plane, through `grade_answer`:

- every reference answer passes every expectation;
- for every task, at least one automatic mutation of its reference fails an expectation;
- equivalent rewrites of the references still pass;
- for every task that names its grant (or who gets it), each applicable over-grant
  mutation (an extra verb, resource, wildcard resource or subject, a Role widened to a
  ClusterRole) fails.
"""

from __future__ import annotations

from collections import Counter

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.grading.verdict import Stage
from kubebench.tasks.authoring.mutations import (
    MUTATORS,
    OVER_GRANTS,
    mutations_for,
    names_its_grant,
    restricts_subjects,
)
from kubebench.tasks.authoring.rewrites import REWRITERS, rewrites_for
from kubebench.tasks.loader import load_tasks
from kubebench.tasks.schema import Task
from tests.tasks.conftest import failure_summary, grade_many, infra_retries


def _one_per_scenario(tasks: list[Task]) -> list[Task]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for task in tasks:
        key = (task.category, *(t for t in task.tags if t.startswith("scenario:")))
        if key not in seen:
            seen.add(key)
            out.append(task)
    return out


async def _assert_references_pass(kube: KubeClient, tasks: list[Task]) -> None:
    verdicts = await grade_many(kube, [(t, t.reference) for t in tasks])
    failures = [
        failure_summary(t, v) for t, v in zip(tasks, verdicts, strict=True) if not v.success
    ]
    assert not failures, "\n".join(failures[:20])
    assert all(v.expectations and all(e.passed for e in v.expectations) for v in verdicts)


async def _assert_each_task_has_a_failing_mutation(kube: KubeClient, tasks: list[Task]) -> None:
    """Mutations are tried in order, one round at a time, until each task has one that
    fails an expectation. A task none of whose mutations reaches the expectations stage
    (a plain namespace: renaming it is out of the task's scope) must at least have one
    refused by the scope check."""
    pending = {t.id: (t, mutations_for(t)) for t in tasks}
    tasks_by_id = {t.id: t for t in tasks}
    by_scope: dict[str, str] = {}
    caught: Counter[str] = Counter()
    round_ = 0
    while True:
        batch = [(t, muts[round_]) for t, muts in pending.values() if round_ < len(muts)]
        if not batch:
            break
        verdicts = await grade_many(kube, [(t, m.answer) for t, m in batch])
        for (task, mutation), verdict in zip(batch, verdicts, strict=True):
            assert verdict.infrastructure_error is None, failure_summary(task, verdict)
            if verdict.success:
                continue
            if verdict.stage == Stage.expectations:
                assert any(not e.passed for e in verdict.expectations)
                caught[mutation.name] += 1
                pending.pop(task.id)
                by_scope.pop(task.id, None)
            elif verdict.stage == Stage.scope:
                by_scope.setdefault(task.id, mutation.name)
        round_ += 1
    unexplained = sorted(set(pending) - set(by_scope))
    assert not unexplained, f"no mutation of these tasks fails: {unexplained[:20]}"
    only_scope = sorted(by_scope)
    print(f"\nfirst mutation failing an expectation, per kind: {dict(caught)}")
    print(f"caught only by the scope check ({len(only_scope)}): {only_scope}")
    print(f"gradings retried after an infrastructure error so far: {len(infra_retries)}")
    assert all("scenario:basic_plain" in tasks_by_id[t].tags for t in only_scope), only_scope


async def _assert_rewrites_pass(kube: KubeClient, tasks: list[Task], names: list[str]) -> None:
    """One round per rewrite kind, every task in a round graded concurrently."""
    failures = []
    for name in names:
        pairs = [(t, r) for t in tasks for r in rewrites_for(t, [name])]
        verdicts = await grade_many(kube, [(t, r.answer) for t, r in pairs])
        failures += [
            f"[{r.name}] " + failure_summary(t, v)
            for (t, r), v in zip(pairs, verdicts, strict=True)
            if not v.success
        ]
    assert not failures, "\n".join(failures[:20])


async def _assert_over_grants_fail(kube: KubeClient, tasks: list[Task]) -> None:
    """Every applicable over-grant mutation fails: refused by the scope check (a kind
    the prompt did not ask for) or by an RBAC expectation, never by chance elsewhere."""
    pairs = [
        (t, m)
        for t in tasks
        if names_its_grant(t) or restricts_subjects(t)
        for m in mutations_for(t, OVER_GRANTS)
    ]
    assert {m.name for _, m in pairs} == set(OVER_GRANTS)
    verdicts = await grade_many(kube, [(t, m.answer) for t, m in pairs])
    passed, wrong_reason = [], []
    by: Counter[tuple[str, str]] = Counter()
    for (task, mutation), verdict in zip(pairs, verdicts, strict=True):
        assert verdict.infrastructure_error is None, failure_summary(task, verdict)
        if verdict.success:
            passed.append(f"[{mutation.name}] {task.id}")
            continue
        failed = {e.kind for e in verdict.expectations if not e.passed}
        where = (
            verdict.stage.value if verdict.stage != Stage.expectations else "/".join(sorted(failed))
        )
        by[(mutation.name, where)] += 1
        rbac_check = failed & {"permissions", "subjects", "access"}
        if verdict.stage not in (Stage.scope, Stage.expectations) or (
            verdict.stage == Stage.expectations and not rbac_check
        ):
            wrong_reason.append(f"[{mutation.name}] " + failure_summary(task, verdict))
    print(f"\nover-grant mutations graded: {len(pairs)}; failed at: {dict(sorted(by.items()))}")
    assert not passed, passed[:20]
    assert not wrong_reason, wrong_reason[:20]


# -- quick versions: one task of each scenario (run on every test invocation) ----------------


async def test_sampled_references_pass(kube: KubeClient) -> None:
    await _assert_references_pass(kube, _one_per_scenario(load_tasks("test")))


async def test_sampled_mutations_each_fail_an_expectation(kube: KubeClient) -> None:
    await _assert_each_task_has_a_failing_mutation(kube, _one_per_scenario(load_tasks("test")))


async def test_every_rewrite_kind_passes_on_one_task_per_scenario(kube: KubeClient) -> None:
    names = [name for name, _ in REWRITERS]
    await _assert_rewrites_pass(kube, _one_per_scenario(load_tasks("test")), names)


async def test_specific_mutations_are_caught(kube: KubeClient) -> None:
    """Each mutation kind, where it applies to a sampled task, makes the grade fail."""
    tasks = _one_per_scenario(load_tasks("test"))
    wanted = {
        "widen_to_wildcard",
        "corrupt_secret_value",
        "drop_immutable",
        "change_role_ref",
        "drop_object",
    }
    pairs = [(t, m) for t in tasks for m in mutations_for(t) if m.name in wanted]
    assert {m.name for _, m in pairs} == wanted
    verdicts = await grade_many(kube, [(t, m.answer) for t, m in pairs])
    passed = [f"[{m.name}] {t.id}" for (t, m), v in zip(pairs, verdicts, strict=True) if v.success]
    assert not passed, passed


async def test_sampled_over_grants_fail(kube: KubeClient) -> None:
    await _assert_over_grants_fail(kube, _one_per_scenario(load_tasks("test")))


def test_mutation_and_rewrite_lists_cover_the_issue() -> None:
    assert {
        "widen_to_wildcard",
        "drop_verb",
        "rename_primary",
        "corrupt_secret_value",
        "drop_object",
        "drop_label",
        *OVER_GRANTS,
    } <= {n for n, _ in MUTATORS}
    assert {
        "reorder_keys",
        "flow_style",
        "string_data_as_data",
        "omit_defaults",
        "with_comments",
        "as_list",
        "as_documents",
    } <= {n for n, _ in REWRITERS}


# -- full splits (slow) --------------------------------------------------------------------


@pytest.mark.slow
async def test_every_test_reference_passes(kube: KubeClient) -> None:
    await _assert_references_pass(kube, load_tasks("test"))


@pytest.mark.slow
async def test_every_test_task_has_a_mutation_that_fails(kube: KubeClient) -> None:
    await _assert_each_task_has_a_failing_mutation(kube, load_tasks("test"))


@pytest.mark.slow
async def test_every_test_reference_rewritten_still_passes(kube: KubeClient) -> None:
    # "combined" = a List of flow-style, key-reversed objects with base64 data and
    # defaulted fields left out; the other rewrites run per scenario above.
    await _assert_rewrites_pass(kube, load_tasks("test"), ["combined"])


@pytest.mark.slow
async def test_every_dev_reference_passes(kube: KubeClient) -> None:
    await _assert_references_pass(kube, load_tasks("dev"))


@pytest.mark.slow
async def test_every_over_grant_of_every_task_naming_its_grant_fails(kube: KubeClient) -> None:
    await _assert_over_grants_fail(kube, [*load_tasks("test"), *load_tasks("dev")])


@pytest.mark.slow
async def test_every_dev_reference_rewritten_still_passes(kube: KubeClient) -> None:
    await _assert_rewrites_pass(kube, load_tasks("dev"), ["combined"])
