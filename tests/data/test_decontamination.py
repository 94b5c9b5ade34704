"""The benchmark index: canary, n-grams and canonical reference objects, from the loader."""

from __future__ import annotations

import yaml

from kubebench.data.decontamination import BenchmarkIndex
from kubebench.data.objects import canonical_json
from kubebench.tasks.loader import CANARY_GUID, load_tasks


def test_index_catches_references_prompts_and_the_canary() -> None:
    index = BenchmarkIndex.from_splits()
    tasks = load_tasks("test") + load_tasks("dev")
    assert index.tasks == len(tasks)
    task = next(t for t in tasks if len(t.prompt.split()) > 15)
    hit = index.check_text("Intro text. " + task.prompt + " More text.")
    assert hit is not None and hit.test == "ngram" and hit.field == "prompt"
    assert index.check_text(f"# {CANARY_GUID}").test == "canary"  # type: ignore[union-attr]
    ref = next(t for t in tasks if t.category == "Role")
    obj = next(yaml.safe_load_all(ref.reference))
    reordered = dict(reversed(list(obj.items())))
    match = index.check_object(canonical_json(reordered))
    assert match is not None and match.test == "canonical"
    assert index.check_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: zz\n") is None
