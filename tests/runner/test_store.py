"""The run store: append, read back, torn last line, supersession, index rebuild."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kubebench.errors import UserError
from kubebench.models.base import Completion
from kubebench.runner.cache import ResponseCache
from kubebench.runner.store import RunStore, is_run_dir
from kubebench.scoring.base import Score, ScoreRecord
from tests.runner.records_factory import make_meta, make_record


def test_create_writes_run_json_and_refuses_to_overwrite(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    store = RunStore.create(run_dir, make_meta(["a", "b"], samples=2))
    store.close()
    assert is_run_dir(run_dir)
    assert json.loads((run_dir / "run.json").read_text())["task_ids"] == ["a", "b"]
    assert RunStore.open(run_dir).meta.planned_attempts == 4
    with pytest.raises(UserError, match="already holds a run"):
        RunStore.create(run_dir, make_meta(["a"]))


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a kubebench run"):
        RunStore.open(tmp_path)


def test_append_and_read_back_in_order(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b", "c"])) as store:
        for task_id, ok in (("a", True), ("b", False), ("c", True)):
            store.append_attempt(make_record(task_id, success=ok))
    reopened = RunStore.open(tmp_path / "r")
    records = reopened.attempts()
    assert [r.task_id for r in records] == ["a", "b", "c"]
    assert [r.success for r in records] == [True, False, True]
    assert records[1].verdict is not None and records[1].verdict.reason
    assert len((tmp_path / "r" / "attempts.jsonl").read_text().splitlines()) == 3


def test_torn_last_line_is_ignored_then_cut_before_the_next_append(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b"))
    path = tmp_path / "r" / "attempts.jsonl"
    whole = path.read_bytes()
    # A kill in the middle of writing the second line leaves half of it.
    first_end = whole.index(b"\n") + 1
    path.write_bytes(whole[: first_end + 40])

    store = RunStore.open(tmp_path / "r")
    assert [r.task_id for r in store.attempts()] == ["a"]
    assert store.finished_keys() == {"a#0"}
    store.append_attempt(make_record("c"))
    store.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends with a newline
    assert [json.loads(line)["task_id"] for line in lines[:-1]] == ["a", "c"]


def test_later_record_supersedes_an_infrastructure_error(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b"])) as store:
        store.append_attempt(make_record("a", infra="API server unreachable"))
        store.append_attempt(make_record("b"))
        assert set(store.pending_retries()) == {"a#0"}
        assert store.pending_retries()["a#0"].infrastructure_error == "API server unreachable"
        assert store.finished_keys() == {"b#0"}
        store.append_attempt(make_record("a"))
        assert store.finished_keys() == {"a#0", "b#0"}
        assert store.pending_retries() == {}
    store = RunStore.open(tmp_path / "r")
    assert len(store.attempt_history()) == 3
    current = store.attempts()
    assert [r.attempt_key for r in current] == ["a#0", "b#0"]
    assert all(r.infrastructure_error is None for r in current)


def test_index_is_rebuilt_when_missing_or_stale(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    with RunStore.create(run_dir, make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b", success=False))
    index = run_dir / "index.sqlite"
    assert index.exists()

    index.unlink()
    with RunStore.open(run_dir) as store:
        rows = store.index_rows()
        assert [(r["attempt_key"], r["success"]) for r in rows] == [("a#0", 1), ("b#0", 0)]

    # Another writer appended to the JSONL without touching the index: it is stale.
    line = make_record("c").model_dump_json() + "\n"
    with (run_dir / "attempts.jsonl").open("a") as fh:
        fh.write(line)
    with RunStore.open(run_dir) as store:
        assert store.finished_keys() == {"a#0", "b#0", "c#0"}

    # A corrupt index file is replaced, not trusted.
    index.write_bytes(b"this is not sqlite")
    with RunStore.open(run_dir) as store:
        assert len(store.index_rows()) == 3
    with sqlite3.connect(index) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 3


def test_record_offsets_in_the_index_point_at_their_lines(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b", success=False))
        rows = store.index_rows()
        assert store.record_at(rows[1]["line_offset"]).task_id == "b"


def test_second_writer_is_refused(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a"])) as first:
        first.lock()
        second = RunStore.open(tmp_path / "r")
        with pytest.raises(UserError, match="another kubebench process"):
            second.lock()
        second.close()


def test_garbled_middle_line_is_reported_with_its_number_and_skipped(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
    path = tmp_path / "r" / "attempts.jsonl"
    with path.open("a") as fh:
        fh.write('{"not": "a record"}\n')
        fh.write(make_record("c").model_dump_json() + "\n")
    store = RunStore.open(tmp_path / "r")
    assert [r.task_id for r in store.attempts()] == ["a", "c"]
    assert store.finished_keys() == {"a#0", "c#0"}
    assert any("line 2 is not an attempt record" in w for w in store.warnings)
    store.append_attempt(make_record("b"))  # a middle line stays where it is
    store.close()
    assert path.read_text().splitlines()[1] == '{"not": "a record"}'
    assert not (tmp_path / "r" / "attempts.jsonl.garbled").exists()


@pytest.mark.parametrize("garbage", [b"\x00\x00\x00\x00", b"not json at all", b'{"half": '])
def test_garbled_last_line_is_set_aside_and_the_rest_resumed(
    tmp_path: Path, garbage: bytes
) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b", "c"])) as store:
        store.append_attempt(make_record("a"))
        store.append_attempt(make_record("b", infra="API server unreachable"))
    path = tmp_path / "r" / "attempts.jsonl"
    with path.open("ab") as fh:
        fh.write(garbage + b"\n")  # newline kept: not a torn line

    store = RunStore.open(tmp_path / "r")  # a reader (`kubebench report`)
    assert [r.task_id for r in store.attempts()] == ["a", "b"]
    assert set(store.pending_retries()) == {"b#0"}
    assert any("line 3" in w and "garbled" in w for w in store.warnings), store.warnings
    assert path.read_bytes().endswith(garbage + b"\n")  # readers change nothing
    store.lock()  # a writer (`kubebench run --resume`)
    store.append_attempt(make_record("b"))
    store.append_attempt(make_record("c"))
    store.close()
    assert [json.loads(line)["task_id"] for line in path.read_text().splitlines()] == [
        "a", "b", "b", "c",
    ]  # fmt: skip
    side = tmp_path / "r" / "attempts.jsonl.garbled"
    assert side.read_bytes() == garbage + b"\n"
    assert oct(side.stat().st_mode & 0o777) == "0o600"
    reopened = RunStore.open(tmp_path / "r")
    assert reopened.finished_keys() == {"a#0", "b#0", "c#0"}
    assert reopened.warnings == []


def test_torn_last_line_is_kept_in_the_side_file(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "r", make_meta(["a", "b"])) as store:
        store.append_attempt(make_record("a"))
    path = tmp_path / "r" / "attempts.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"attempt_key": "b#0", "task_')
    store = RunStore.open(tmp_path / "r")
    store.append_attempt(make_record("b"))
    store.close()
    assert (tmp_path / "r" / "attempts.jsonl.garbled").read_bytes() == (
        b'{"attempt_key": "b#0", "task_\n'
    )
    assert len(path.read_text().splitlines()) == 2


def test_an_answer_with_a_lone_surrogate_is_stored_losslessly(tmp_path: Path) -> None:
    rec = make_record("a")
    rec.answer = "```yaml\nkind: \ud800\n```"
    with RunStore.create(tmp_path / "r", make_meta(["a", "b"])) as store:
        store.append_attempt(rec)
        store.append_attempt(make_record("b"))
    store = RunStore.open(tmp_path / "r")
    assert store.attempts()[0].answer == "```yaml\nkind: \ud800\n```"
    store.rebuild_index()
    rows = store.index_rows()
    assert store.record_at(rows[0]["line_offset"]).answer == rec.answer
    assert store.warnings == []


def test_run_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    old = os.umask(0o022)
    try:
        with RunStore.create(tmp_path / "runs" / "r", make_meta(["a"])) as store:
            store.lock()
            store.append_attempt(make_record("a"))
            store.append_score(ScoreRecord(attempt_key="a#0", score=Score(name="t", version="1")))
        cache = ResponseCache(tmp_path / "cache" / "responses.sqlite")
        cache.put("k", Completion(text="secret"))
        cache.close()
    finally:
        os.umask(old)
    run_dir = tmp_path / "runs" / "r"
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in run_dir.iterdir()}
    assert set(modes) >= {"run.json", "attempts.jsonl", "scores.jsonl", "index.sqlite"}
    assert set(modes.values()) == {"0o600"}, modes
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"
    cached = {p.name: oct(p.stat().st_mode & 0o777) for p in (tmp_path / "cache").iterdir()}
    assert set(cached.values()) == {"0o600"}, cached


def test_an_older_world_readable_run_is_made_private_by_its_next_writer(tmp_path: Path) -> None:
    import os

    with RunStore.create(tmp_path / "r", make_meta(["a", "b"])) as store:
        store.append_attempt(make_record("a"))
    os.chmod(tmp_path / "r", 0o755)
    os.chmod(tmp_path / "r" / "attempts.jsonl", 0o644)
    with RunStore.open(tmp_path / "r") as store:
        store.lock()
    assert oct((tmp_path / "r").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "r" / "attempts.jsonl").stat().st_mode & 0o777) == "0o600"


def test_cached_answer_with_a_lone_surrogate_comes_back_exactly(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "responses.sqlite")
    cache.put("k", Completion(text="a\ud800b", finish_reason="stop"))
    got = cache.get("k")
    cache.close()
    assert got is not None and got.text == "a\ud800b"


def test_judgements_are_appended_and_filtered_by_judge(tmp_path: Path) -> None:
    from kubebench.judge.schema import Judgement, JudgementRecord

    def record(key: str, judge_id: str, score: int) -> JudgementRecord:
        judgement = Judgement(judge_id=judge_id, scored=True, scores={"intent": score})
        return JudgementRecord(attempt_key=key, judge_id=judge_id, judgement=judgement)

    with RunStore.create(tmp_path / "r", make_meta(["a", "b"])) as store:
        store.append_judgement(record("a#0", "openai:judge-1", 4))
        store.append_judgement(record("b#0", "openai:judge-2", 2))
        store.append_judgement(record("b#0", "openai:judge-1", 5))
    store = RunStore.open(tmp_path / "r")
    assert len(store.judgements()) == 3
    mine = store.judgements("openai:judge-1")
    assert [(j.attempt_key, j.judgement.scores) for j in mine] == [
        ("a#0", {"intent": 4}),
        ("b#0", {"intent": 5}),
    ]
    assert store.judgements("nobody") == []
