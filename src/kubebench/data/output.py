"""train.jsonl / validation.jsonl, split by source repository (no repository on both
sides), written from the staging file in one streaming pass."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from kubebench import defaults

TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"


def assign_repositories(
    counts: Counter[str],
    fraction: float = defaults.DATA_VALIDATION_FRACTION,
    seed: str = defaults.DATA_SPLIT_SEED,
) -> set[str]:
    """Repositories for validation: taken in a seeded hash order while they fit, until
    their examples reach `fraction` of all. Deterministic for the same counts."""
    total = sum(counts.values())
    target = fraction * total
    chosen: set[str] = set()
    held = 0
    order = sorted(counts, key=lambda r: hashlib.sha256(f"{seed}\x00{r}".encode()).hexdigest())
    for repo in order:
        if held >= target or len(chosen) >= len(counts) - 1:
            break
        if held + counts[repo] <= max(target * 1.5, 1):
            chosen.add(repo)
            held += counts[repo]
    return chosen


def write_splits(out: Path, staging: Path, fraction: float) -> dict[str, object]:
    """Two passes over the staging file: count per repository, then write both splits."""
    counts: Counter[str] = Counter()
    with staging.open(encoding="utf-8") as fh:
        for line in fh:
            counts[json.loads(line)["repo"]] += 1
    validation = assign_repositories(counts, fraction)
    written = Counter[str]()
    with (
        staging.open(encoding="utf-8") as fh,
        (out / TRAIN_FILE).open("w", encoding="utf-8") as train,
        (out / VALIDATION_FILE).open("w", encoding="utf-8") as val,
    ):
        for line in fh:
            item = json.loads(line)
            split = "validation" if item["repo"] in validation else "train"
            (val if split == "validation" else train).write(
                json.dumps(item["record"], ensure_ascii=False) + "\n"
            )
            written[split] += 1
    staging.unlink()
    return {
        "train": written["train"],
        "validation": written["validation"],
        "validation_repositories": sorted(validation),
        "train_repositories": sorted(set(counts) - validation),
    }
