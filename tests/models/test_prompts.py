"""Prompt construction: system prompt, answer format, deterministic dev-split shots."""

from __future__ import annotations

import pytest

from kubebench.errors import UserError
from kubebench.models.prompts import (
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    build_messages,
    choose_examples,
)
from kubebench.tasks.schema import Kind, ObjectExpectation, ObjectRef, Task, Tier


def make_task(task_id: str, kind: Kind, tier: Tier, name: str) -> Task:
    reference = f"apiVersion: v1\nkind: {kind.value}\nmetadata:\n  name: {name}\n"
    return Task(
        id=task_id,
        category=kind,
        tier=tier,
        prompt=f"Please create the {kind.value} {name}.",
        allowed_kinds=[kind.value],
        expectations=[
            ObjectExpectation(ref=ObjectRef(api_version="v1", kind=kind.value, name=name))
        ],
        reference=reference,
    )


TASK = make_task("t-1", Kind.ConfigMap, Tier.advanced, "app-config")
POOL = [
    make_task("d-ns-1", Kind.Namespace, Tier.advanced, "ns-one"),
    make_task("d-cm-basic", Kind.ConfigMap, Tier.basic, "cm-basic"),
    make_task("d-cm-adv-1", Kind.ConfigMap, Tier.advanced, "cm-adv-1"),
    make_task("d-secret", Kind.Secret, Tier.basic, "secret-one"),
    make_task("d-cm-adv-2", Kind.ConfigMap, Tier.advanced, "cm-adv-2"),
    make_task("t-1", Kind.ConfigMap, Tier.advanced, "app-config"),  # the task itself
]


def test_zero_shot_is_system_then_the_request() -> None:
    messages = build_messages(TASK)
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].content == SYSTEM_PROMPT
    assert "```yaml" in SYSTEM_PROMPT
    assert messages[1].content == TASK.prompt
    assert isinstance(PROMPT_VERSION, str) and PROMPT_VERSION


def test_shots_prefer_same_kind_then_tier_and_never_the_task_itself() -> None:
    chosen = choose_examples(TASK, POOL, 4)
    ids = [t.id for t in chosen]
    assert set(ids[:2]) == {"d-cm-adv-1", "d-cm-adv-2"}
    assert ids[2] == "d-cm-basic"
    assert "t-1" not in ids
    assert choose_examples(TASK, list(reversed(POOL)), 4) == chosen  # order-independent


def test_shots_become_user_assistant_turns_with_fenced_references() -> None:
    messages = build_messages(TASK, shots=2, examples=POOL)
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    examples = {t.prompt: t for t in POOL}
    for question, answer in ((messages[1], messages[2]), (messages[3], messages[4])):
        example = examples[question.content]
        assert answer.content == f"```yaml\n{example.reference.strip()}\n```"
    assert messages[-1].content == TASK.prompt
    assert build_messages(TASK, shots=2, examples=POOL) == messages


def test_too_many_shots_is_a_user_error() -> None:
    with pytest.raises(UserError, match="more examples"):
        build_messages(TASK, shots=10, examples=POOL)
    with pytest.raises(UserError):
        build_messages(TASK, shots=-1)


def test_default_shots_come_from_the_dev_split_only() -> None:
    from kubebench.tasks.loader import load_tasks

    dev_prompts = {t.prompt for t in load_tasks(split="dev")}
    test_tasks = load_tasks(split="test")
    task = next(t for t in test_tasks if t.category == Kind.RoleBinding)
    messages = build_messages(task, shots=3)
    shot_prompts = [m.content for m in messages[1:-1:2]]
    assert len(shot_prompts) == 3
    assert all(p in dev_prompts for p in shot_prompts)
    assert not {p for p in shot_prompts} & {t.prompt for t in test_tasks}
    dev_by_prompt = {t.prompt: t for t in load_tasks(split="dev")}
    assert all(dev_by_prompt[p].category == Kind.RoleBinding for p in shot_prompts)
