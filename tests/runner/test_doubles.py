"""The oracle and scripted test doubles of an LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebench.errors import UserError
from kubebench.models.base import GenerationConfig
from kubebench.models.doubles import OracleProvider, ScriptedProvider
from tests.runner.records_factory import make_task

CONFIG = GenerationConfig()


async def test_oracle_answers_the_reference_in_a_yaml_block() -> None:
    task = make_task("t-1")
    completion = await OracleProvider("reference").complete([], CONFIG, task=task)
    assert completion.text.startswith("```yaml\n")
    assert completion.text.rstrip().endswith("```")
    assert task.reference.strip() in completion.text


async def test_oracle_needs_the_task() -> None:
    with pytest.raises(UserError, match="task="):
        await OracleProvider().complete([], CONFIG)


def test_oracle_is_never_cached_and_rejects_other_names() -> None:
    assert OracleProvider().describe()["cacheable"] is False
    assert OracleProvider().model_id == "oracle:reference"
    with pytest.raises(UserError, match="unknown oracle"):
        OracleProvider("gold")


async def test_scripted_from_a_json_object(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"t-1": "kind: ConfigMap", "t-2": "no yaml here"}))
    model = ScriptedProvider(str(path))
    assert (await model.complete([], CONFIG, task=make_task("t-1"))).text == "kind: ConfigMap"
    assert (await model.complete([], CONFIG, task=make_task("t-2"))).text == "no yaml here"
    assert (await model.complete([], CONFIG, task=make_task("t-3"))).text == ""  # missing
    assert model.model_id == f"scripted:{path}"
    assert model.describe()["answers"] == 2


async def test_scripted_from_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    lines = [{"task_id": "t-1", "answer": "a"}, {"task_id": "t-2", "answer": "b"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    model = ScriptedProvider(str(path))
    assert (await model.complete([], CONFIG, task=make_task("t-2"))).text == "b"


def test_scripted_file_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        ScriptedProvider(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "t-1", "answer": "a"}\n{"id": "t-2"}\n')
    with pytest.raises(UserError, match="line 2"):
        ScriptedProvider(str(bad))


def test_scripted_describe_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"t-1": "a"}))
    before = ScriptedProvider(str(path)).describe()["sha256"]
    path.write_text(json.dumps({"t-1": "b"}))
    assert ScriptedProvider(str(path)).describe()["sha256"] != before


async def test_scripted_chat_answers_without_a_task(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"*": ["one", "two"], "t-1": "task answer"}))
    model = ScriptedProvider(str(path))
    said = [(await model.complete([], CONFIG)).text for _ in range(3)]
    assert said == ["one", "two", "one"]
    assert (await model.complete([], CONFIG, task=make_task("t-1"))).text == "task answer"
    assert model.describe()["answers"] == 1 and model.describe()["chat_answers"] == 2
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"t-1": "a"}))
    with pytest.raises(UserError, match="needs complete"):
        await ScriptedProvider(str(plain)).complete([], CONFIG)


def test_scripted_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"*": "x"}))
    assert ScriptedProvider(str(path), delay_s="0.5").delay_s == 0.5
    with pytest.raises(UserError, match="unknown option"):
        ScriptedProvider(str(path), temperature="1")
    with pytest.raises(UserError, match="seconds"):
        ScriptedProvider(str(path), delay_s="soon")


async def test_scripted_chat_streams_word_by_word(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    answer = "Here it is:\n\n```yaml\nkind: Namespace\n```\n"
    path.write_text(json.dumps({"*": answer}))
    model = ScriptedProvider(str(path), chunk_s="0.01")
    chunks = [chunk async for chunk in model.stream([], CONFIG)]
    texts = [c.text for c in chunks[:-1]]
    assert texts == ["Here ", "it ", "is:\n\n", "```yaml\n", "kind: ", "Namespace\n", "```\n"]
    assert chunks[-1].text == "" and chunks[-1].completion is not None
    assert chunks[-1].completion.text == answer
    assert all(c.completion is None for c in chunks[:-1])
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"t-1": "a"}))
    with pytest.raises(UserError, match="needs complete"):
        [c async for c in ScriptedProvider(str(plain)).stream([], CONFIG)]
