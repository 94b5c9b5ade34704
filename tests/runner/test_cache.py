"""The response cache: what makes a key, and round trips through SQLite."""

from __future__ import annotations

from pathlib import Path

from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.runner.cache import ResponseCache, cache_key, is_cacheable

MODEL = {"provider": "openai", "model": "m", "endpoint": "http://localhost:8000/v1"}
MESSAGES = [ChatMessage(role="user", content="Create a ConfigMap.")]


def test_key_changes_with_everything_that_changes_an_answer() -> None:
    base = cache_key(MODEL, GenerationConfig(), MESSAGES, 0)
    assert base == cache_key(dict(MODEL), GenerationConfig(), list(MESSAGES), 0)
    others = [
        cache_key(MODEL | {"endpoint": "http://other/v1"}, GenerationConfig(), MESSAGES, 0),
        cache_key(MODEL, GenerationConfig(temperature=0.7), MESSAGES, 0),
        cache_key(MODEL, GenerationConfig(max_tokens=10), MESSAGES, 0),
        cache_key(MODEL, GenerationConfig(), [ChatMessage(role="user", content="x")], 0),
        cache_key(MODEL, GenerationConfig(), MESSAGES, 1),
    ]
    assert base not in others
    assert len(set(others)) == len(others)


def test_round_trip_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    key = cache_key(MODEL, GenerationConfig(), MESSAGES, 0)
    assert cache.get(key) is None
    cache.put(key, Completion("kind: ConfigMap", 12, 3, 0.5, "stop"))
    cache.close()
    again = ResponseCache(path)
    got = again.get(key)
    assert got is not None
    assert (got.text, got.prompt_tokens, got.completion_tokens, got.finish_reason) == (
        "kind: ConfigMap",
        12,
        3,
        "stop",
    )
    assert len(again) == 1
    again.close()


def test_doubles_opt_out() -> None:
    assert is_cacheable(MODEL)
    assert not is_cacheable({"provider": "oracle", "cacheable": False})
