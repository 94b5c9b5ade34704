"""Read a `kubebench data build` folder as conversational prompt-completion examples.

Each `messages` conversation becomes `prompt` (every message before the last assistant
turn) and `completion` (that turn). TRL then masks the prompt out of the labels
(`completion_only_loss`), whatever the chat template: this needs no `{% generation %}`
markers, which SmolLM2's template (and most others) lack, so `assistant_only_loss`
would fail on them.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubebench.errors import UserError

SPLIT_FILES = {"train": "train.jsonl", "validation": "validation.jsonl"}
CARD_FILES = ("DATASET.md", "stats.json", "train.jsonl", "validation.jsonl")


@dataclass
class ChatSplits:
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    card_sha256: str
    card_summary: str
    task_examples: dict[str, int] = field(default_factory=dict)  # split → examples added


def to_prompt_completion(record: dict[str, Any], where: str) -> dict[str, Any]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise UserError(f"{where}: no `messages` list", hint="write it with kubebench data build")
    for message in messages:
        if not (
            isinstance(message, dict)
            and message.get("role") in ("system", "user", "assistant")
            and isinstance(message.get("content"), str)
        ):
            raise UserError(f"{where}: a message needs a role and a string content")
    if messages[-1]["role"] != "assistant":
        raise UserError(f"{where}: the last message must be the assistant's answer")
    prompt = [{"role": m["role"], "content": m["content"]} for m in messages[:-1]]
    if not any(m["role"] == "user" for m in prompt):
        raise UserError(f"{where}: no user message before the answer")
    return {"prompt": prompt, "completion": [dict(messages[-1])]}


def read_split(
    path: Path,
    limit: int | None = None,
    *,
    kinds: frozenset[str] = frozenset(),
    complete_objects: bool = False,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """A split's examples; with `kinds`, only those whose source objects are all of
    these kinds (examples that record no kinds, such as docs, are left out); with
    `complete_objects`, only those whose every object states its namespace (when its
    kind is namespaced) and holds more than a name; with `limit`, a seeded sample of
    that many in file order (files are grouped by repository, so the first N would
    come from a few repositories)."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{path}:{number} is not JSON") from None
            example = to_prompt_completion(record, f"{path}:{number}")
            if kinds and not _all_of_kinds(record, kinds):
                continue
            if complete_objects and not _complete(record, f"{path}:{number}"):
                continue
            examples.append(example)
    if limit and len(examples) > limit:
        keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
        examples = [examples[i] for i in keep]
    return examples


def _all_of_kinds(record: dict[str, Any], kinds: frozenset[str]) -> bool:
    source = record.get("source")
    found = source.get("kinds") if isinstance(source, dict) else None
    return bool(found) and isinstance(found, list) and set(found) <= kinds


def _complete(record: dict[str, Any], where: str) -> bool:
    source = record.get("source") if isinstance(record.get("source"), dict) else {}
    counts = [source.get("without_namespace"), source.get("bare")]
    if not all(isinstance(n, int) for n in counts):
        raise UserError(
            f"{where}: the source records no without_namespace/bare counts",
            hint="rebuild the dataset with this kubebench's data build, or drop complete_objects",
        )
    return counts == [0, 0] and bool(source.get("objects"))


def card_sha256(folder: Path) -> str:
    """One hash over the dataset's card, stats and both splits (whichever exist)."""
    digest = hashlib.sha256()
    for name in CARD_FILES:
        path = folder / name
        if path.is_file():
            digest.update(f"{name}\0".encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def card_summary(folder: Path, train: int, validation: int) -> str:
    """A line for the model card: examples per split, and the card's title if any."""
    title = ""
    card = folder / "DATASET.md"
    if card.is_file():
        first = card.read_text(encoding="utf-8").lstrip().splitlines()[:1]
        title = first[0].lstrip("# ").strip() if first else ""
    counts = f"{train} training / {validation} validation examples"
    return f"{title}: {counts}" if title else counts


def task_examples(split: str) -> list[dict[str, Any]]:
    """A benchmark split's tasks as prompt → reference examples, with the messages and
    answer format `kubebench run` uses (zero-shot)."""
    from kubebench.models.prompts import build_messages, example_answer
    from kubebench.tasks.loader import load_tasks

    return [
        {
            "prompt": [m.model_dump() for m in build_messages(task)],
            "completion": [{"role": "assistant", "content": example_answer(task)}],
        }
        for task in load_tasks(split)
    ]


def load_chat_splits(
    folder: Path,
    *,
    max_train: int | None = None,
    max_eval: int | None = None,
    extra_tasks: list[str] | None = None,
    kinds: list[str] | None = None,
    complete_objects: bool = False,
    seed: int = 0,
) -> ChatSplits:
    """Both splits of `folder`, as prompt-completion examples, and the card's hash;
    `kinds`, `complete_objects` (training examples only) and the cuts as in
    `read_split`; `extra_tasks` splits' tasks are added to the training examples
    (after the cut, whatever their kinds)."""
    if not folder.is_dir():
        raise UserError(
            f"no dataset folder at {folder}", hint="build one with kubebench data build"
        )
    paths = {split: folder / name for split, name in SPLIT_FILES.items()}
    for split, path in paths.items():
        if not path.is_file():
            raise UserError(f"{folder} has no {path.name} ({split} split)")
    only = frozenset(kinds or ())
    train = read_split(
        paths["train"], max_train, kinds=only, complete_objects=complete_objects, seed=seed
    )
    # Validation stays whole: a split held out by repository rarely has enough
    # examples of a few kinds to measure loss on (corpus-v1: 2 of 250).
    validation = read_split(paths["validation"], max_eval, seed=seed)
    selection = f" of kinds {', '.join(sorted(only))}" if only else ""
    if complete_objects:
        selection += " with complete objects (namespace stated, more than a name)"
    if not train:
        raise UserError(f"{paths['train']} holds no examples{selection}")
    if not validation:
        raise UserError(f"{paths['validation']} holds no examples (needed for eval loss)")
    added: dict[str, int] = {}
    for split in extra_tasks or []:
        examples = task_examples(split)
        train.extend(examples)
        added[split] = len(examples)
    summary = card_summary(folder, len(train), len(validation))
    if only:
        summary += f" (training examples{selection})"
    if added:
        summary += (
            " (" + ", ".join(f"{n} from the {s} split's tasks" for s, n in added.items()) + ")"
        )
    return ChatSplits(
        train=train,
        validation=validation,
        card_sha256=card_sha256(folder),
        card_summary=summary,
        task_examples=added,
    )
