"""Near-duplicate report over task prompts: word 3-gram Jaccard similarity.

Prompts are lower-cased and split into words (punctuation and backticks dropped), each
prompt becomes its set of word 3-grams, and every pair is compared exactly (the splits
are small enough that MinHash would only add error). Pairs are compared through an
inverted index, so only pairs that share at least one 3-gram cost anything.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from kubebench import defaults
from kubebench.tasks.schema import Task

_WORD = re.compile(r"[a-z0-9][a-z0-9._:/@=-]*")


def shingles(text: str, n: int = defaults.SIMILARITY_NGRAM) -> frozenset[tuple[str, ...]]:
    """The set of word n-grams of a text."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


@dataclass(frozen=True)
class SimilarityReport:
    """Each task's highest similarity to any other task, and the closest pairs."""

    nearest: dict[str, float]  # task id -> max Jaccard to another task
    top_pairs: list[tuple[float, str, str]]

    def quantile(self, q: float) -> float:
        values = sorted(self.nearest.values())
        if not values:
            return 0.0
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    @property
    def max(self) -> float:
        return max(self.nearest.values(), default=0.0)

    def summary(self) -> dict[str, float]:
        return {
            "max": self.max,
            "p99": self.quantile(0.99),
            "p95": self.quantile(0.95),
            "median": self.quantile(0.5),
        }


def similarity_report(
    tasks: list[Task], *, n: int = defaults.SIMILARITY_NGRAM, top: int = defaults.SIMILARITY_TOP
) -> SimilarityReport:
    """Exact pairwise Jaccard of prompt n-gram sets, via an inverted index."""
    sets = [shingles(t.prompt, n) for t in tasks]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for gram in s:
            index[gram].append(i)
    nearest = [0.0] * len(tasks)
    pairs: list[tuple[float, str, str]] = []
    for i, s in enumerate(sets):
        shared: dict[int, int] = defaultdict(int)
        for gram in s:
            for j in index[gram]:
                if j > i:
                    shared[j] += 1
        for j, inter in shared.items():
            sim = inter / (len(s) + len(sets[j]) - inter)
            nearest[i] = max(nearest[i], sim)
            nearest[j] = max(nearest[j], sim)
            pairs.append((sim, tasks[i].id, tasks[j].id))
    pairs.sort(reverse=True)
    return SimilarityReport({t.id: v for t, v in zip(tasks, nearest, strict=True)}, pairs[:top])
