"""Decontamination against the benchmark's own tasks (test and dev splits).

Three tests, as StarCoder's decontamination does for its benchmarks, each removal
written to the audit file with what matched and where:
- the canary GUID of the task files (whole, or its UUID part);
- a shared n-gram (13 tokens by default; tokens are lower-cased alphanumeric runs) with
  any task prompt or reference answer;
- canonical-object equality (sorted keys, server-set fields stripped) with any object of
  a reference answer.
Tasks come through the tasks loader, so a regenerated split is picked up as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kubebench import defaults
from kubebench.data.objects import canonical_json
from kubebench.grading.extract import YamlBlock
from kubebench.grading.parse import AnswerParseError, parse_documents
from kubebench.tasks.loader import CANARY_GUID, SPLITS, load_tasks
from kubebench.tasks.schema import Task

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(text: str, n: int) -> Iterable[str]:
    words = tokens(text)
    return (" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


@dataclass(frozen=True)
class Contamination:
    """What matched: `test` is canary, ngram or canonical; `task` and `field` say where."""

    test: str
    task: str
    field: str
    matched: str


class BenchmarkIndex:
    """Canary strings, n-grams and canonical reference objects of the benchmark tasks."""

    def __init__(self, tasks: Iterable[Task], n: int = defaults.DATA_DECONTAM_NGRAM) -> None:
        self.n = n
        self.canaries = (CANARY_GUID, CANARY_GUID.rsplit(":", 1)[-1])
        self.grams: dict[str, tuple[str, str]] = {}
        self.objects: dict[str, str] = {}
        self.tasks = 0
        for task in tasks:
            self.tasks += 1
            for field_name, text in (("prompt", task.prompt), ("reference", task.reference)):
                for gram in ngrams(text, n):
                    self.grams.setdefault(gram, (task.id, field_name))
            try:
                docs = parse_documents([YamlBlock(task.reference, 1, fenced=True)])
            except AnswerParseError:
                continue
            for doc in docs:
                self.objects.setdefault(canonical_json(doc.obj), task.id)

    @classmethod
    def from_splits(
        cls, splits: Iterable[str] = SPLITS, n: int = defaults.DATA_DECONTAM_NGRAM
    ) -> BenchmarkIndex:
        return cls((t for split in splits for t in load_tasks(split)), n)

    def check_text(self, text: str) -> Contamination | None:
        for canary in self.canaries:
            if canary in text:
                return Contamination("canary", "*", "canary", canary)
        for gram in ngrams(text, self.n):
            hit = self.grams.get(gram)
            if hit is not None:
                return Contamination("ngram", hit[0], hit[1], gram)
        return None

    def check_object(self, canonical: str) -> Contamination | None:
        task = self.objects.get(canonical)
        if task is not None:
            return Contamination("canonical", task, "reference", canonical[:200])
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "ngram_size": self.n,
            "ngrams": len(self.grams),
            "reference_objects": len(self.objects),
            "canary": CANARY_GUID,
        }


class AuditLog:
    """decontamination_audit.jsonl: one line per removal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self.count = 0

    def __enter__(self) -> AuditLog:
        self._fh = self.path.open("w", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()

    def record(self, stage: str, where: str, hit: Contamination, **extra: Any) -> None:
        assert self._fh is not None
        line = {
            "stage": stage,
            "where": where,
            "test": hit.test,
            "task": hit.task,
            "field": hit.field,
            "matched": hit.matched,
            **extra,
        }
        self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.count += 1
