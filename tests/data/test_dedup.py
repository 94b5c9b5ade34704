"""Exact and near dedup; near-dup recall and precision measured on planted edits of real
corpus objects."""

from __future__ import annotations

import copy
import random
from pathlib import Path

from kubebench.data.dedup import ExactDeduplicator, NearDeduplicator, shingles
from kubebench.data.objects import canonical_json, parse_document, split_documents
from tests.data.conftest import read_jsonl


def _jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def _corpus_objects(corpus: Path) -> list[dict]:
    out = []
    for row in read_jsonl(corpus / "manifests.jsonl"):
        for doc in split_documents(row["content"]):
            out += parse_document(doc).objects
    return out


def _edit(obj: dict, rng: random.Random, number: int) -> dict:
    """One small edit: a label added, the name suffixed, or one string value changed."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    choice = number % 3
    if choice == 0:
        meta.setdefault("labels", {})["copied-from"] = "upstream"
    elif choice == 1:
        meta["name"] = f"{meta.get('name', 'x')}-fork"
    else:
        strings = []

        def walk(node: object) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(value, str) and key not in ("apiVersion", "kind"):
                        strings.append((node, key))
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(out)
        if strings:
            node, key = rng.choice(strings)
            node[key] = node[key] + "-edited"
    return out


def test_exact_dedup_keeps_the_first() -> None:
    exact = ExactDeduplicator()
    assert exact.first_seen("a", "k1") is None
    assert exact.first_seen("a", "k2") == "k1"
    assert exact.first_seen("b", "k3") is None and len(exact) == 2


def test_near_dedup_recall_and_precision_on_planted_near_duplicates(corpus: Path) -> None:
    rng = random.Random(7)
    originals: list[str] = []
    seen_shingles: list[set[bytes]] = []
    for obj in _corpus_objects(corpus):
        text = canonical_json(obj)
        sh = shingles(text)
        if len(sh) < 40 or len(sh) > 2000:
            continue
        if all(len(sh & o) / len(sh | o) < 0.5 for o in seen_shingles):
            originals.append(text)
            seen_shingles.append(sh)
        if len(originals) == 400:
            break
    assert len(originals) == 400
    planted = []
    for i, text in enumerate(originals):
        import json

        edited = canonical_json(_edit(json.loads(text), rng, i))
        if edited != text:
            planted.append((i, edited, _jaccard(text, edited)))
    positives = [p for p in planted if p[2] >= 0.7]
    assert len(positives) >= 0.9 * len(planted)  # the edits are small

    near = NearDeduplicator()
    for i, text in enumerate(originals):
        assert near.check_and_add(text, f"orig-{i}") is None, f"original {i} merged"
    caught = wrong = 0
    for i, edited, truth in planted:
        match = near.check_and_add(edited, f"copy-{i}")
        if match is None:
            continue
        if match.key == f"orig-{i}" and truth >= 0.7:
            caught += 1
        elif match.key != f"orig-{i}":
            wrong += 1
    merges = caught + wrong
    recall = caught / len(positives)
    precision = caught / merges if merges else 1.0
    print(f"near-dup: {len(positives)} planted, recall {recall:.3f}, precision {precision:.3f}")
    assert recall >= 0.95
    assert precision >= 0.99


def test_near_dedup_is_deterministic() -> None:
    texts = [
        f"apiVersion v1 kind ConfigMap name app{i % 5} data key value {i % 5} tail"
        for i in range(30)
    ]
    runs = []
    for _ in range(2):
        near = NearDeduplicator()
        runs.append([bool(near.check_and_add(t, str(i))) for i, t in enumerate(texts)])
    assert runs[0] == runs[1] and runs[0][:5] == [False] * 5 and all(runs[0][5:])
