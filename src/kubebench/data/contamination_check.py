"""An independent check of a built dataset against the benchmark, from the output files
alone (none of the build's indexes): canary hits, shared 13-grams with any test or dev
prompt or reference, and reference objects found again in an answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.grading.extract import extract_yaml
from kubebench.grading.parse import AnswerParseError, parse_documents
from kubebench.tasks.loader import CANARY_GUID, SPLITS, load_tasks

_WORDS = re.compile(r"[a-z0-9]+")
_SERVER_SET = {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
               "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}  # fmt: skip


def _grams(text: str, n: int) -> set[int]:
    words = _WORDS.findall(text.lower())
    return {hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1)}


def _normal(obj: Any) -> str:
    obj = {k: v for k, v in obj.items() if k != "status"}
    if isinstance(obj.get("metadata"), dict):
        meta = {k: v for k, v in obj["metadata"].items() if k not in _SERVER_SET}
        obj["metadata"] = meta
    return json.dumps(obj, sort_keys=True)


def _objects(text: str) -> list[dict[str, Any]]:
    try:
        return [d.obj for d in parse_documents(extract_yaml(text).blocks)]
    except AnswerParseError:
        return []


@dataclass
class CheckResult:
    examples: int = 0
    canary_hits: int = 0
    shared_ngrams: int = 0
    canonical_matches: int = 0
    ngram: int = defaults.DATA_DECONTAM_NGRAM
    offenders: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.canary_hits or self.shared_ngrams or self.canonical_matches)


def check_dataset(out: Path, n: int = defaults.DATA_DECONTAM_NGRAM) -> CheckResult:
    """Scan train.jsonl and validation.jsonl of a built dataset."""
    tasks = [t for split in SPLITS for t in load_tasks(split)]
    bench_grams: set[int] = set()
    bench_objects: set[str] = set()
    for task in tasks:
        bench_grams |= _grams(task.prompt, n) | _grams(task.reference, n)
        bench_objects |= {_normal(o) for o in _objects(f"```yaml\n{task.reference}\n```")}
    canaries = (CANARY_GUID, CANARY_GUID.rsplit(":", 1)[-1])
    result = CheckResult(ngram=n)
    for name in ("train.jsonl", "validation.jsonl"):
        path = out / name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                row = json.loads(line)
                result.examples += 1
                text = "\n".join(m["content"] for m in row["messages"] if m["role"] != "system")
                bad = False
                if any(c in line for c in canaries):
                    result.canary_hits += 1
                    bad = True
                shared = len(_grams(text, n) & bench_grams)
                if shared:
                    result.shared_ngrams += shared
                    bad = True
                answer = next(m["content"] for m in row["messages"] if m["role"] == "assistant")
                matches = sum(_normal(o) in bench_objects for o in _objects(answer))
                if matches:
                    result.canonical_matches += matches
                    bad = True
                if bad and len(result.offenders) < 20:
                    result.offenders.append(f"{name}:{number}")
    return result
