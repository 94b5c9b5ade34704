"""Test doubles of an LLM: `oracle:reference` and `scripted:<path>`.

They exercise the whole harness without a model: the oracle answers each task's
reference solution (a benchmark run with it must score 100 %, which checks the tasks
and the grader together); the scripted model answers from a file, for tests and for
grading answers produced elsewhere. Both need the `task=` argument of `complete()`,
except for a scripted file with chat answers under the key `"*"` (a string, or a list
answered in turn): a chat without a task (`kubebench serve`) gets those.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kubebench.errors import UserError
from kubebench.models.base import ChatMessage, Completion, CompletionChunk, GenerationConfig
from kubebench.models.options import ProviderHelp
from kubebench.tasks.schema import Task

CHAT_KEY = "*"  # in a scripted JSON object: the answer(s) to a chat without a task
_OPTIONS = ("delay_s", "load_s", "chunk_s")
_WORD = re.compile(r"\s*\S+\s*|\s+")  # a streamed chunk: one word and the space around it


def _require_task(provider: str, task: Task | None) -> Task:
    if task is None:
        raise UserError(
            f"the {provider} test double answers per task and needs complete(..., task=...)",
            hint="use it through `kubebench run`, which passes the task",
        )
    return task


def _completion(text: str, started: float) -> Completion:
    return Completion(
        text=text,
        prompt_tokens=0,
        completion_tokens=0,
        latency_s=time.monotonic() - started,
        finish_reason="stop",
    )


class OracleProvider:
    """Answers every task with its reference solution in a ```yaml block."""

    PROVIDER_HELP = ProviderHelp(
        summary="Test double: answers each task's reference solution (scores 100 %).",
        id_syntax="oracle or oracle:reference",
        examples=("kubebench run --model oracle --limit 20",),
    )

    def __init__(self, name: str = "reference", **options: object) -> None:
        if name not in ("", "reference"):
            raise UserError(
                f"unknown oracle {name!r}", hint="the only oracle is `oracle:reference`"
            )
        if options:
            raise UserError(f"the oracle takes no options (got {', '.join(sorted(options))})")
        self.model_id = "oracle:reference"

    async def complete(
        self,
        messages: list[ChatMessage],
        config: GenerationConfig,
        *,
        task: Task | None = None,
    ) -> Completion:
        started = time.monotonic()
        reference = _require_task("oracle", task).reference
        return _completion(f"```yaml\n{reference.rstrip()}\n```\n", started)

    def describe(self) -> dict[str, object]:
        # Answers come from the task file, not from the messages: never cache them.
        return {"provider": "oracle", "name": "reference", "cacheable": False}

    async def aclose(self) -> None:
        return None


def load_script(path: Path) -> dict[str, str]:
    """Read answers by task id from a JSON object or a JSONL file.

    JSON: `{"<task id>": "<answer>", ...}`. JSONL: one `{"task_id": ..., "answer": ...}`
    per line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UserError(f"scripted answers file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read scripted answers file {path}: {exc}") from exc
    stripped = text.lstrip()
    if not stripped:
        return {}
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and not {"task_id", "answer"} <= whole.keys():
        return {str(k): _answer_text(path, k, v) for k, v in whole.items() if k != CHAT_KEY}
    answers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} line {number} is not JSON: {exc.msg}") from exc
        if not isinstance(row, dict) or "task_id" not in row or "answer" not in row:
            raise UserError(
                f'{path} line {number} needs "task_id" and "answer"',
                hint='write JSONL lines like {"task_id": "...", "answer": "..."}, '
                "or one JSON object mapping task id to answer",
            )
        answers[str(row["task_id"])] = _answer_text(path, row["task_id"], row["answer"])
    return answers


def load_chat_answers(path: Path) -> list[str]:
    """The answers to chats without a task: the JSON object's `"*"` value (a string or a
    list of strings); none for JSONL files or objects without it."""
    try:
        whole = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(whole, dict) or CHAT_KEY not in whole:
        return []
    value = whole[CHAT_KEY]
    answers = value if isinstance(value, list) else [value]
    return [_answer_text(path, CHAT_KEY, answer) for answer in answers]


def _answer_text(path: Path, task_id: object, value: object) -> str:
    if not isinstance(value, str):
        raise UserError(f"{path}: the answer for {task_id} is not a string")
    return value


class ScriptedProvider:
    """Answers from a file of answers by task id; a task the file lacks gets ""."""

    PROVIDER_HELP = ProviderHelp(
        summary="Test double: answers from a JSON object or JSONL file keyed by task id "
        '(and chats without a task from the key "*").',
        id_syntax="scripted:<path to .json or .jsonl>[?delay_s=S&load_s=S&chunk_s=S]",
        examples=("kubebench run --model scripted:answers.jsonl",),
    )

    def __init__(self, name: str, **options: object) -> None:
        if not name:
            raise UserError(
                "the scripted model needs a file", hint="--model scripted:answers.jsonl"
            )
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise UserError(
                f"unknown option(s) of the scripted model: {', '.join(unknown)}",
                hint="it takes delay_s (seconds per answer), load_s (seconds to load) and "
                "chunk_s (seconds between the words of a streamed chat answer)",
            )
        try:
            self.delay_s, load_s, self.chunk_s = (
                float(options.get(name, 0.0))  # type: ignore[arg-type]
                for name in _OPTIONS
            )
        except ValueError:
            raise UserError(
                "the scripted model's delay_s, load_s and chunk_s are seconds"
            ) from None
        # A stand-in for a model that takes a while to load or to answer (server tests).
        time.sleep(load_s)
        self.path = Path(name).expanduser()
        self.answers = load_script(self.path)
        self.chat_answers = load_chat_answers(self.path)
        self._chats = 0
        self._sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.model_id = f"scripted:{name}"

    async def complete(
        self,
        messages: list[ChatMessage],
        config: GenerationConfig,
        *,
        task: Task | None = None,
    ) -> Completion:
        started = time.monotonic()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if task is None and self.chat_answers:
            return _completion(self._next_chat_answer(), started)
        answer = self.answers.get(_require_task("scripted", task).id, "")
        return _completion(answer, started)

    def _next_chat_answer(self) -> str:
        answer = self.chat_answers[self._chats % len(self.chat_answers)]
        self._chats += 1
        return answer

    async def stream(
        self, messages: list[ChatMessage], config: GenerationConfig
    ) -> AsyncIterator[CompletionChunk]:
        """A chat answer word by word, `chunk_s` apart (as a model would stream it)."""
        if not self.chat_answers:
            _require_task("scripted", None)
        started = time.monotonic()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        answer = self._next_chat_answer()
        for match in _WORD.finditer(answer):
            yield CompletionChunk(match.group())
            if self.chunk_s:
                await asyncio.sleep(self.chunk_s)
        yield CompletionChunk("", _completion(answer, started))

    def describe(self) -> dict[str, object]:
        return {
            "provider": "scripted",
            "path": str(self.path.resolve()),
            "sha256": self._sha256,
            "answers": len(self.answers),
            "chat_answers": len(self.chat_answers),
            "cacheable": False,
        }

    async def aclose(self) -> None:
        return None
