"""Load the shipped task splits (versioned JSONL inside the package) and write them.

Each line is one task plus two file-level fields: `canary` (a GUID marking the file, so
training corpora can be checked for contamination) and the task's `schema_version`.
Every line has the same keys and column types, so `datasets.load_dataset("json", ...)`
reads the files as they are.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.tasks.schema import SCHEMA_VERSION, Task

SPLITS = ("test", "dev")
# Marks every shipped line; the same string is in docs/tasks.md. Never reuse it elsewhere.
CANARY_GUID = "kubebench:canary:6f1d7c2e-93a4-4b8e-b5d0-2c7a91e4f3b8"


def data_path(name: str) -> Path:
    """A file under kubebench/tasks/data/ (works from a wheel and from a checkout)."""
    return Path(str(resources.files("kubebench.tasks").joinpath("data", name)))


def split_path(split: str) -> Path:
    return data_path(f"{split}.jsonl")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}", hint=f"choose one of: {', '.join(SPLITS)}")


def task_to_line(task: Task) -> str:
    """One JSONL line: the task's JSON with the canary GUID, keys in a stable order."""
    record: dict[str, Any] = {"canary": CANARY_GUID, **task.model_dump(mode="json")}
    # Setup objects are free-form Kubernetes objects; as JSON strings they keep one
    # Arrow type across lines.
    record["setup"] = [json.dumps(obj, sort_keys=True) for obj in task.setup]
    return json.dumps(record, ensure_ascii=False, sort_keys=False)


def task_from_record(record: dict[str, Any]) -> Task:
    """Inverse of `task_to_line` for a decoded JSON object (extra `canary` dropped)."""
    record = dict(record)
    record.pop("canary", None)
    record["setup"] = [json.loads(o) if isinstance(o, str) else o for o in record.get("setup", [])]
    return Task.model_validate(record)


def write_split(tasks: list[Task], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(task_to_line(t) + "\n" for t in tasks), encoding="utf-8")


def read_tasks_file(path: Path) -> list[Task]:
    """Tasks from any JSONL file in the shipped format."""
    tasks = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise UserError(f"{path}:{number} is not valid JSON: {exc}") from exc
        version = record.get("schema_version")
        if version != SCHEMA_VERSION:
            raise UserError(
                f"{path}:{number} has schema_version {version!r}; this kubebench reads "
                f"{SCHEMA_VERSION}",
                hint="regenerate with `kubebench tasks generate` or upgrade kubebench",
            )
        tasks.append(task_from_record(record))
    return tasks


@cache
def _load(split: str) -> tuple[Task, ...]:
    path = split_path(split)
    if not path.exists():
        raise UserError(
            f"task file {path} is missing", hint="run `kubebench tasks generate` to create it"
        )
    return tuple(read_tasks_file(path))


def load_tasks(split: str = defaults.DEFAULT_TASK_SPLIT) -> list[Task]:
    """Every task of a shipped split ("test" or "dev"), parsed once per process."""
    _check_split(split)
    return list(_load(split))


def get_task(task_id: str) -> Task:
    """One task by id from any split; UserError with a hint for unknown ids."""
    split = "dev" if task_id.startswith("dev-") else "test"
    for task in load_tasks(split):
        if task.id == task_id:
            return task
    stem = task_id.rsplit("-", 1)[0]
    similar = [t.id for t in load_tasks(split) if t.id.startswith(stem)][:3]
    hint = f"did you mean {', '.join(similar)}?" if similar else "see `kubebench tasks list`"
    raise UserError(f"unknown task id {task_id!r}", hint=hint)


def task_set_hash(tasks: list[Task]) -> str:
    """A short, order-independent fingerprint of a task set (ids and full content)."""
    digest = hashlib.sha256()
    for line in sorted(task_to_line(t) for t in tasks):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def clear_cache() -> None:
    """Forget parsed splits (after regenerating the files in this process)."""
    _load.cache_clear()
