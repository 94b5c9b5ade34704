"""Fixtures of the data-curation tests: the shared corpus (when present) and small copies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path | None:
    """shared/corpus beside the checkout (CI), or beside the worktrees folder."""
    candidates = [os.environ.get("KUBEBENCH_CORPUS_DIR")]
    candidates += [str(p / "shared" / "corpus") for p in (_ROOT.parent, _ROOT.parent.parent)]
    for candidate in candidates:
        if candidate and (Path(candidate) / "manifests.jsonl").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def corpus() -> Path:
    found = corpus_dir()
    if found is None:
        pytest.skip("shared/corpus is not available")
    return found


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def record(content: str, repo: str = "acme/infra", path: str = "deploy/x.yaml", **kw: str) -> dict:
    return {"repo": repo, "commit": "0" * 40, "path": path, "license": "Apache-2.0",
            "content": content, **kw}  # fmt: skip
