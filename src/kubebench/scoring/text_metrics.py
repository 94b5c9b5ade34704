"""Text metrics: how much an answer's text resembles the task's reference.

CloudEval-YAML's five text metrics, always secondary to the cluster grade: BLEU, edit
distance, exact match, key-value match and key-value wildcard match. Each is a pure
function of (answer text, reference text) returning a score in [0, 1], with a name and
a version (a change of definition is a new version), so that the scorer registry of the
architecture issue can wrap them unchanged.

As in CloudEval-YAML, a metric sees the answer's code, not its prose: the first fenced
block, or else the answer from its first line that starts a manifest (`apiVersion:`,
`kind:` or `---`). CloudEval-YAML cuts at the first `apiVersion:` even inside a block,
which would drop a `kind:` written before it; KubeBench does not, so that reordered keys
are not punished by the cut itself. Answers that are not YAML score 0 on the YAML-aware
metrics; nothing here raises on model output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

# Guards against hostile answers: alias expansion makes a short text a huge tree.
MAX_TEXT_CHARS = 200_000
MAX_LEAVES = 20_000

_MANIFEST_START = re.compile(r"^(?:apiVersion:|kind:|---)", re.M)
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)


@dataclass(frozen=True)
class TextMetric:
    """One text metric: `score(answer, reference)` in [0, 1]."""

    name: str
    version: str
    summary: str
    score: Callable[[str, str], float]


def answer_code(answer: str) -> str:
    """The code a text metric compares: the first fenced block's body, else the answer
    from its first line that starts a manifest (see the module docstring)."""
    match = _FENCE.search(answer)
    if match:
        return match.group(2)
    start = _MANIFEST_START.search(answer)
    # Not stripped: a block scalar's final newline is part of its value.
    return answer[start.start() :] if start else answer


def _documents(text: str) -> list[Any] | None:
    """The YAML documents of `text` (empty ones dropped), or None when it does not parse."""
    if len(text) > MAX_TEXT_CHARS:
        return None
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except (yaml.YAMLError, RecursionError, ValueError):
        return None


# -- BLEU --------------------------------------------------------------------------------


def bleu(answer: str, reference: str) -> float:
    """Sentence BLEU-4 over whitespace tokens with exponential (NIST, Chen & Cherry method
    3) smoothing, via sacrebleu; 0 for fewer than 4 tokens, as CloudEval-YAML."""
    from sacrebleu.metrics import BLEU

    hypothesis, ref = answer_code(answer), reference.strip()
    if len(hypothesis.split()) < 4 or len(ref.split()) < 4:
        return 0.0
    # With 4 tokens or more on each side, effective order changes nothing; it only stops
    # sacrebleu's warning that sentence BLEU should use it.
    scorer = BLEU(tokenize="none", smooth_method="exp", effective_order=True)
    score = scorer.sentence_score(" ".join(hypothesis.split()), [" ".join(ref.split())]).score
    return min(1.0, max(0.0, score / 100))


# -- edit distance -----------------------------------------------------------------------


def edit_distance(answer: str, reference: str) -> float:
    """1 − (line insertions + deletions) / reference lines, floored at 0: CloudEval-YAML's
    line-level diff, computed as rapidfuzz's Indel distance over stripped lines."""
    from rapidfuzz.distance import Indel

    ref_lines = [line.strip() for line in reference.strip().splitlines()]
    if not ref_lines:
        return 0.0
    lines = [line.strip() for line in answer_code(answer).splitlines()]
    return max(0.0, 1.0 - Indel.distance(lines, ref_lines) / len(ref_lines))


# -- exact match -------------------------------------------------------------------------


def exact_match(answer: str, reference: str) -> float:
    """1 when the answer's code equals the reference, surrounding whitespace aside."""
    return float(answer_code(answer).strip() == reference.strip())


# -- key-value match ---------------------------------------------------------------------


def _same_tree(a: Any, b: Any) -> bool:
    """Deep equality where `1`, `1.0` and `true` differ (DeepDiff's type changes); mapping
    order is ignored, list order is not."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def kv_match(answer: str, reference: str) -> float:
    """1 when the answer parses to the same documents as the reference, in order, each
    with the same keys and values; else 0."""
    mine, ref = _documents(answer_code(answer)), _documents(reference)
    if mine is None or not ref or len(mine) != len(ref):
        return 0.0
    try:
        return float(all(_same_tree(a, b) for a, b in zip(mine, ref, strict=True)))
    except RecursionError:
        return 0.0


# -- key-value wildcard match ------------------------------------------------------------


def label_wildcards(reference: str) -> str:
    """CloudEval-YAML's labelled references: a line with a comment that ends in `*` marks
    its key as a wildcard (any value matches); the key gets a `*` suffix."""
    out = []
    for line in reference.splitlines():
        if "#" in line and line.rstrip().endswith("*") and ":" in line:
            key, rest = line.split(":", 1)
            line = f"{key.rstrip()}*:{rest}"
        out.append(line)
    return "\n".join(out) + ("\n" if reference.endswith("\n") else "")


@dataclass(frozen=True)
class _Leaf:
    path: tuple[str, ...]
    value: Any
    wildcard: bool


class _TooLarge(Exception):
    pass


def _leaves(tree: dict[Any, Any], prefix: tuple[str, ...] = ()) -> Iterator[_Leaf]:
    """Leaf nodes by key path; items of a list of mappings share their list's path."""
    for raw_key, value in tree.items():
        key = str(raw_key)
        path = (*prefix, key.rstrip("*"))
        if isinstance(value, dict):
            yield from _leaves(value, path)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                if isinstance(item, dict):
                    yield from _leaves(item, path)
        else:
            yield _Leaf(path, value, key.endswith("*"))


def _leaf_list(doc: dict[Any, Any]) -> list[_Leaf]:
    out = []
    for leaf in _leaves(doc):
        out.append(leaf)
        if len(out) > MAX_LEAVES:
            raise _TooLarge
    return out


def kv_wildcard(answer: str, reference: str) -> float:
    """Intersection over union of leaf nodes (key path and value), documents paired in
    order (the shorter side padded with empty ones): a reference leaf counts when an
    answer leaf at its path has its value, or any value where the reference marks it as
    a wildcard. KubeBench's references carry no wildcard labels, so here it is the
    leaf-level Jaccard similarity."""
    mine, ref = _documents(answer_code(answer)), _documents(label_wildcards(reference))
    if mine is None or not ref:
        return 0.0
    if not all(isinstance(d, dict) for d in (*mine, *ref)):
        return 0.0
    width = max(len(mine), len(ref))
    mine += [{}] * (width - len(mine))
    ref += [{}] * (width - len(ref))
    intersection = union = 0
    try:
        for doc, ref_doc in zip(mine, ref, strict=True):
            leaves, ref_leaves = _leaf_list(doc), _leaf_list(ref_doc)
            by_path: dict[tuple[str, ...], list[Any]] = {}
            for leaf in leaves:
                by_path.setdefault(leaf.path, []).append(leaf.value)
            hits = sum(
                1
                for r in ref_leaves
                if r.path in by_path
                and (r.wildcard or any(_same_tree(v, r.value) for v in by_path[r.path]))
            )
            intersection += hits
            union += len(leaves) + len(ref_leaves) - hits
    except (_TooLarge, RecursionError):
        return 0.0
    return intersection / union if union else 0.0


TEXT_METRICS: tuple[TextMetric, ...] = (
    TextMetric("bleu", "1", "sentence BLEU-4 of the answer's code vs the reference", bleu),
    TextMetric("edit_distance", "1", "1 − line edits / reference lines", edit_distance),
    TextMetric("exact_match", "1", "answer's code equals the reference", exact_match),
    TextMetric("kv_match", "1", "same documents, keys and values", kv_match),
    TextMetric("kv_wildcard", "1", "leaf key-value intersection over union", kv_wildcard),
)


def text_metric(name: str) -> TextMetric:
    """The metric called `name`; KeyError names the known ones."""
    for metric in TEXT_METRICS:
        if metric.name == name:
            return metric
    raise KeyError(f"unknown text metric {name!r}: {', '.join(m.name for m in TEXT_METRICS)}")


def score_text(answer: str, reference: str) -> dict[str, float]:
    """Every text metric of one answer against its reference, by metric name."""
    return {m.name: m.score(answer, reference) for m in TEXT_METRICS}
