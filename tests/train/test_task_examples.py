"""The dev split's tasks as extra training examples (the issue's ablation); never test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebench.errors import UserError
from kubebench.models.prompts import SYSTEM_PROMPT
from kubebench.tasks.loader import load_tasks
from kubebench.train.config import config_from_dict
from kubebench.train.dataset import load_chat_splits
from kubebench.train.dev_eval import evaluate_checkpoints, parse_eval_tasks
from kubebench.train.run_dir import RunDir, write_json_atomic


def test_dev_tasks_join_the_training_split_as_prompt_and_reference(
    memorise_data: Path,
) -> None:
    plain = load_chat_splits(memorise_data)
    both = load_chat_splits(memorise_data, extra_tasks=["dev"])
    dev = load_tasks("dev")
    assert len(both.train) == len(plain.train) + len(dev)
    assert both.validation == plain.validation and both.task_examples == {"dev": len(dev)}
    added = both.train[len(plain.train) :]
    first, task = added[0], dev[0]
    assert first["prompt"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert first["prompt"][-1] == {"role": "user", "content": task.prompt}
    assert first["completion"][0]["content"] == f"```yaml\n{task.reference.strip()}\n```"
    assert f"{len(dev)} from the dev split's tasks" in both.card_summary


def test_the_test_split_can_never_be_trained_on(memorise_data: Path) -> None:
    with pytest.raises(UserError, match=r"extra_tasks.*test split would leak"):
        config_from_dict({"dataset": str(memorise_data), "extra_tasks": ["test"]}, Path("."))
    config = config_from_dict({"dataset": str(memorise_data), "extra_tasks": ["dev"]}, Path("."))
    assert config.extra_tasks == ["dev"]


def test_a_run_trained_on_dev_tasks_is_not_chosen_on_dev(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    write_json_atomic(run.record, {"config": {"extra_tasks": ["dev"]}})
    with pytest.raises(UserError, match="trained on the dev split's tasks"):
        # Refused before any cluster is touched: no connection is needed to say no.
        evaluate_checkpoints(
            run.root,
            parse_eval_tasks("dev:stratified 1"),
            None,
            checkpoints=["last"],  # type: ignore[arg-type]
        )


def test_kinds_keep_only_examples_of_those_kinds_and_the_cut_is_a_seeded_sample(
    tmp_path: Path,
) -> None:
    def row(n: int, kinds: list[str] | None) -> str:
        source = {"repo": "r", "path": f"{n}.yaml"} | ({"kinds": kinds} if kinds else {})
        messages = [
            {"role": "user", "content": f"request {n}"},
            {"role": "assistant", "content": f"answer {n}"},
        ]
        return json.dumps({"messages": messages, "source": source}) + "\n"

    kinds = [["Role"], ["Role", "RoleBinding"], ["Deployment"], None, ["Role", "Service"]]
    rows = "".join(row(n, kinds[n % 5]) for n in range(100))
    for name in ("train.jsonl", "validation.jsonl"):
        (tmp_path / name).write_text(rows, encoding="utf-8")
    (tmp_path / "DATASET.md").write_text("# kinds\n", encoding="utf-8")

    def numbers(examples: list[dict[str, object]]) -> list[int]:
        return [int(str(e["prompt"][-1]["content"]).split()[-1]) for e in examples]  # type: ignore[index]

    only = load_chat_splits(tmp_path, kinds=["Role", "RoleBinding"])
    assert numbers(only.train) == [n for n in range(100) if n % 5 in (0, 1)]
    assert len(only.validation) == 100  # validation is never filtered by kind
    assert "training examples of kinds Role, RoleBinding" in only.card_summary
    cut = load_chat_splits(tmp_path, kinds=["Role", "RoleBinding"], max_train=10, seed=3)
    picked = numbers(cut.train)
    assert (
        len(picked) == 10 and picked == sorted(picked) and set(picked) <= set(numbers(only.train))
    )
    assert max(picked) > 50  # a sample over the whole file, not its first rows
    assert numbers(load_chat_splits(tmp_path, max_train=10, seed=3).train) != picked
    assert load_chat_splits(tmp_path, kinds=["Role", "RoleBinding"], max_train=10, seed=3) == cut
    with pytest.raises(UserError, match="holds no examples of kinds Secret"):
        load_chat_splits(tmp_path, kinds=["Secret"])


def test_complete_objects_keep_examples_whose_objects_state_a_namespace_and_content(
    tmp_path: Path,
) -> None:
    counts = [(0, 0, 1), (1, 0, 1), (0, 1, 1), (0, 0, 0), (0, 0, 2)]  # lacking ns, bare, objects

    def row(n: int) -> str:
        lacking, bare, objects = counts[n % 5]
        source = {"repo": "r", "path": f"{n}.yaml", "kinds": ["Role"], "objects": objects}
        source |= {"without_namespace": lacking, "bare": bare}
        messages = [
            {"role": "user", "content": f"request {n}"},
            {"role": "assistant", "content": f"answer {n}"},
        ]
        return json.dumps({"messages": messages, "source": source}) + "\n"

    for name in ("train.jsonl", "validation.jsonl"):
        (tmp_path / name).write_text("".join(row(n) for n in range(20)), encoding="utf-8")
    splits = load_chat_splits(tmp_path, kinds=["Role"], complete_objects=True)
    kept = [int(str(e["prompt"][-1]["content"]).split()[-1]) for e in splits.train]  # type: ignore[index]
    assert kept == [n for n in range(20) if n % 5 in (0, 4)]
    assert len(splits.validation) == 20 and "with complete objects" in splits.card_summary
    assert len(load_chat_splits(tmp_path, kinds=["Role"]).train) == 20
    old = json.dumps({"messages": json.loads(row(0))["messages"], "source": {"kinds": ["Role"]}})
    (tmp_path / "train.jsonl").write_text(old + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="no without_namespace/bare counts"):
        load_chat_splits(tmp_path, complete_objects=True)
