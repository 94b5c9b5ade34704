"""The run store: `runs/<run-id>/` with run.json, attempts.jsonl, judgements.jsonl and an
SQLite index.

attempts.jsonl is the truth: one `AttemptRecord` per line, appended, flushed and fsynced
as each attempt finishes, so a killed run loses at most the attempts in flight. A line
cut in half by a kill is ignored by readers and cut off before the next append. A
later line with the same attempt_key supersedes an earlier one (a `--resume` retrying an
infrastructure error). index.sqlite summarises the JSONL for quick look-ups and is
rebuilt from it whenever it is missing or does not match the JSONL's size.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kubebench.errors import UserError
from kubebench.runner.records import AttemptRecord, RunMeta

RUN_FILE = "run.json"
ATTEMPTS_FILE = "attempts.jsonl"
JUDGEMENTS_FILE = "judgements.jsonl"
INDEX_FILE = "index.sqlite"
LOCK_FILE = ".lock"
INDEX_SCHEMA_VERSION = 1

_INDEX_SCHEMA = f"""
PRAGMA user_version = {INDEX_SCHEMA_VERSION};
CREATE TABLE source (size INTEGER NOT NULL);
CREATE TABLE attempts (
    attempt_key TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    sample INTEGER NOT NULL,
    category TEXT,
    tier TEXT,
    success INTEGER NOT NULL,
    runtime_valid INTEGER NOT NULL,
    operational_valid INTEGER NOT NULL,
    infrastructure_error TEXT,
    infrastructure_stage TEXT,
    overall_score REAL,
    line_offset INTEGER NOT NULL
);
CREATE INDEX attempts_cell ON attempts (category, tier);
"""


def read_jsonl_lines(path: Path) -> tuple[list[tuple[int, bytes]], int]:
    """The complete lines of a JSONL file as (byte offset, line), and where they end.

    A last line without its newline was cut by a kill: it is left out, and the returned
    end offset is where a writer must truncate before appending.
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    lines: list[tuple[int, bytes]] = []
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break
        if end > start:
            lines.append((start, data[start:end]))
        start = end + 1
    return lines, start


def complete_size(path: Path) -> int:
    """The size of a JSONL file up to the end of its last complete line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with path.open("rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return size
    return read_jsonl_lines(path)[1]


def _connect_index(path: Path) -> sqlite3.Connection:
    # The index is rebuilt from the JSONL whenever it disagrees with it, so it needs no
    # durability of its own: no fsync per attempt, only the JSONL's.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA journal_mode=MEMORY")
    return conn


def _index_row(rec: AttemptRecord, offset: int) -> tuple[Any, ...]:
    return (
        rec.attempt_key,
        rec.task_id,
        rec.sample,
        rec.category,
        rec.tier,
        int(rec.success),
        int(rec.runtime_valid),
        int(rec.operational_valid),
        rec.infrastructure_error,
        rec.infrastructure_stage,
        rec.overall_score,
        offset,
    )


class RunStore:
    """One run folder. `create` starts a run, `open` reads (and resumes) an existing one."""

    def __init__(self, run_dir: Path, meta: RunMeta) -> None:
        self.run_dir = run_dir
        self.meta = meta
        self._attempts_fd: int | None = None
        self._judgements_fd: int | None = None
        self._lock_fd: int | None = None
        self._index: sqlite3.Connection | None = None

    # -- paths ------------------------------------------------------------------------

    @property
    def attempts_path(self) -> Path:
        return self.run_dir / ATTEMPTS_FILE

    @property
    def judgements_path(self) -> Path:
        return self.run_dir / JUDGEMENTS_FILE

    @property
    def index_path(self) -> Path:
        return self.run_dir / INDEX_FILE

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def create(cls, run_dir: Path, meta: RunMeta) -> RunStore:
        """Start a new run folder and write run.json; UserError if it is already a run."""
        run_dir = Path(run_dir)
        if (run_dir / RUN_FILE).exists():
            raise UserError(
                f"{run_dir} already holds a run",
                hint=f"continue it: `kubebench run --resume {run_dir}` (or pick another --run-id)",
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        store = cls(run_dir, meta)
        store.write_meta()
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """Open an existing run folder; UserError when it is not a run."""
        run_dir = Path(run_dir)
        meta_path = run_dir / RUN_FILE
        if not meta_path.is_file():
            raise UserError(
                f"{run_dir} is not a kubebench run (no {RUN_FILE})",
                hint="runs live in runs/<run-id>/; `ls runs/` lists them",
            )
        try:
            meta = RunMeta.model_validate_json(meta_path.read_bytes())
        except ValidationError as exc:
            raise UserError(
                f"{meta_path} is not a valid run file: {exc.errors()[0]['msg']}"
            ) from exc
        return cls(run_dir, meta)

    def write_meta(self) -> None:
        """Write run.json atomically (temporary file, fsync, rename)."""
        tmp = self.run_dir / f".{RUN_FILE}.tmp"
        with tmp.open("w") as fh:
            fh.write(self.meta.model_dump_json(indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.run_dir / RUN_FILE)

    def lock(self) -> None:
        """Take the run's writer lock; UserError if another process writes this run."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise UserError(
                f"another kubebench process is writing {self.run_dir}",
                hint="wait for it to finish, or stop it first",
            ) from exc
        self._lock_fd = fd

    def close(self) -> None:
        for name in ("_attempts_fd", "_judgements_fd", "_lock_fd"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- appending --------------------------------------------------------------------

    def _append_fd(self, path: Path) -> int:
        """An O_APPEND descriptor, after cutting off a line a kill left half-written."""
        _, end = read_jsonl_lines(path)
        if path.exists() and path.stat().st_size != end:
            with path.open("r+b") as fh:
                fh.truncate(end)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @staticmethod
    def _write_line(fd: int, model: BaseModel) -> int:
        """Append one JSON line, flush and fsync; return the byte offset it starts at."""
        data = model.model_dump_json().encode() + b"\n"
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        return os.fstat(fd).st_size - len(data)

    def append_attempt(self, rec: AttemptRecord) -> None:
        """Append one finished attempt (append + flush + fsync), then update the index."""
        if self._attempts_fd is None:
            self._attempts_fd = self._append_fd(self.attempts_path)
        offset = self._write_line(self._attempts_fd, rec)
        index = self._ensure_index(known_size=offset)
        with index:
            index.execute(
                "INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                _index_row(rec, offset),
            )
            size = os.fstat(self._attempts_fd).st_size
            index.execute("UPDATE source SET size = ?", (size,))

    def append_judgement(self, rec: BaseModel) -> None:
        """Append one `kubebench.judge.schema.JudgementRecord` to judgements.jsonl."""
        if self._judgements_fd is None:
            self._judgements_fd = self._append_fd(self.judgements_path)
        self._write_line(self._judgements_fd, rec)

    # -- reading ----------------------------------------------------------------------

    def attempt_history(self) -> list[AttemptRecord]:
        """Every complete line of attempts.jsonl, superseded ones included, in file order."""
        lines, _ = read_jsonl_lines(self.attempts_path)
        out = []
        for number, (_, line) in enumerate(lines, start=1):
            try:
                out.append(AttemptRecord.model_validate_json(line))
            except ValidationError as exc:
                raise UserError(
                    f"{self.attempts_path} line {number} is not an attempt record: "
                    f"{exc.errors()[0]['msg']}",
                    hint="the file is append-only; restore it or start a new run",
                ) from exc
        return out

    def attempts(self) -> list[AttemptRecord]:
        """The current record of each attempt: the last line of each attempt_key, in the
        order the keys first appeared."""
        latest: dict[str, AttemptRecord] = {}
        for rec in self.attempt_history():
            latest[rec.attempt_key] = rec
        return list(latest.values())

    def judgement_lines(self) -> list[dict[str, Any]]:
        """judgements.jsonl as plain dicts (for readers that do not import the judge)."""
        lines, _ = read_jsonl_lines(self.judgements_path)
        return [json.loads(line) for _, line in lines]

    def judgements(self, judge_id: str | None = None) -> list[Any]:
        """The records of judgements.jsonl (all, or those of one judge), as
        `kubebench.judge.schema.JudgementRecord`."""
        from kubebench.judge.schema import JudgementRecord  # the judge room owns the type

        lines, _ = read_jsonl_lines(self.judgements_path)
        out = []
        for _, line in lines:
            data = json.loads(line)
            if judge_id is not None and data.get("judge_id") != judge_id:
                continue
            out.append(JudgementRecord.model_validate(data))
        return out

    # -- index ------------------------------------------------------------------------

    def _index_fresh(self, conn: sqlite3.Connection, size: int) -> bool:
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_SCHEMA_VERSION:
                return False
            row = conn.execute("SELECT size FROM source").fetchone()
        except sqlite3.DatabaseError:
            return False
        return row is not None and row[0] == size

    def _ensure_index(self, known_size: int | None = None) -> sqlite3.Connection:
        """The index, rebuilt from attempts.jsonl when missing, broken or stale.

        `known_size` is the JSONL's size the index must describe, when the caller knows
        it (the writer, just before its own line); otherwise it is read from the file.
        """
        end = complete_size(self.attempts_path) if known_size is None else known_size
        if self._index is not None and self._index_fresh(self._index, end):
            return self._index
        if self._index is None and self.index_path.exists():
            try:
                conn = _connect_index(self.index_path)
                if self._index_fresh(conn, end):
                    self._index = conn
                    return conn
                conn.close()
            except sqlite3.DatabaseError:
                pass
        return self.rebuild_index()

    def rebuild_index(self) -> sqlite3.Connection:
        """Recreate index.sqlite from attempts.jsonl (the JSONL is the truth)."""
        if self._index is not None:
            self._index.close()
            self._index = None
        tmp = self.run_dir / f".{INDEX_FILE}.tmp"
        tmp.unlink(missing_ok=True)
        lines, end = read_jsonl_lines(self.attempts_path)
        conn = _connect_index(tmp)
        conn.executescript(_INDEX_SCHEMA)
        with conn:
            for offset, line in lines:
                rec = AttemptRecord.model_validate_json(line)
                conn.execute(
                    "INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    _index_row(rec, offset),
                )
            conn.execute("INSERT INTO source VALUES (?)", (end,))
        conn.close()
        tmp.replace(self.index_path)
        self._index = _connect_index(self.index_path)
        return self._index

    def index_rows(self) -> list[sqlite3.Row]:
        """The index's current row per attempt (rebuilt first if needed)."""
        conn = self._ensure_index()
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute("SELECT * FROM attempts ORDER BY line_offset").fetchall()
        finally:
            conn.row_factory = None

    def finished_keys(self) -> set[str]:
        """Attempts that need no more work: recorded without an infrastructure error."""
        conn = self._ensure_index()
        rows = conn.execute("SELECT attempt_key FROM attempts WHERE infrastructure_error IS NULL")
        return {row[0] for row in rows}

    def record_at(self, offset: int) -> AttemptRecord:
        """The record that starts at byte `offset` of attempts.jsonl (from the index)."""
        with self.attempts_path.open("rb") as fh:
            fh.seek(offset)
            return AttemptRecord.model_validate_json(fh.readline())

    def pending_retries(self) -> dict[str, AttemptRecord]:
        """Attempts whose current record is an infrastructure error, by attempt_key."""
        conn = self._ensure_index()
        rows = conn.execute(
            "SELECT attempt_key, line_offset FROM attempts WHERE infrastructure_error IS NOT NULL"
        ).fetchall()
        return {key: self.record_at(offset) for key, offset in rows}


def is_run_dir(path: Path) -> bool:
    """True when `path` holds a run.json."""
    return (Path(path) / RUN_FILE).is_file()


__all__ = ["AttemptRecord", "RunMeta", "RunStore", "is_run_dir", "read_jsonl_lines"]
