"""The response cache: one SQLite file of model answers shared by every run of a user.

The key is a hash of what determines an answer: the provider's describe() (model,
endpoint, revision, adapter...), the generation config, the messages and the sample
index. A greedy answer is therefore reused by every later run that asks the same
question of the same model; sampled answers are reused per sample index, so a repeated
run with the same settings sees the same samples (`--no-cache` asks afresh).
Providers whose describe() says `"cacheable": False` (the test doubles) bypass it.

The file holds answers, which can hold secrets from the tasks: it is 0600 in a 0700
folder. An answer with a lone surrogate (not UTF-8) is stored as its surrogate-passing
UTF-8 bytes, so it comes back exactly.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.runner.store import create_private_file, make_private_dir

CACHE_SCHEMA_VERSION = 1

_SCHEMA = f"""
PRAGMA user_version = {CACHE_SCHEMA_VERSION};
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s REAL,
    finish_reason TEXT,
    created_at REAL NOT NULL
);
"""


def cache_key(
    describe: dict[str, Any],
    config: GenerationConfig,
    messages: list[ChatMessage],
    sample: int,
) -> str:
    """A stable hash of everything that determines one answer."""
    payload = {
        "model": describe,
        "generation": config.model_dump(mode="json"),
        "messages": [m.model_dump(mode="json") for m in messages],
        "sample": sample,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def is_cacheable(describe: dict[str, Any]) -> bool:
    return describe.get("cacheable", True) is not False


class ResponseCache:
    """Get and put completions by key. Safe for several processes (SQLite WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        make_private_dir(path.parent)
        # SQLite gives its -wal and -shm files the database file's mode.
        create_private_file(path)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(
            "SELECT text, prompt_tokens, completion_tokens, latency_s, finish_reason "
            "FROM responses WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        text, prompt_tokens, completion_tokens, latency_s, finish_reason = row
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogatepass")
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency_s or 0.0,
            finish_reason=finish_reason,
        )

    def put(self, key: str, completion: Completion) -> None:
        text: str | bytes = completion.text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = completion.text.encode("utf-8", "surrogatepass")
        self._db.execute(
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                text,
                completion.prompt_tokens,
                completion.completion_tokens,
                completion.latency_s,
                completion.finish_reason,
                time.time(),
            ),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()
