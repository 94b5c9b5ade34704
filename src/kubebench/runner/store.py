"""The run store: `runs/<run-id>/` with run.json, attempts.jsonl, scores.jsonl and an
SQLite index.

attempts.jsonl is the truth: one `AttemptRecord` per line, appended, flushed and fsynced
as each attempt finishes, so a killed run loses at most the attempts in flight. A line
that is not a record (cut in half by a kill, or garbled) is skipped by readers, who note
it in `RunStore.warnings`; when it is the last line, the next writer moves it to
attempts.jsonl.garbled before appending. A later line with the same attempt_key
supersedes an earlier one (a `--resume` retrying an infrastructure error). index.sqlite
summarises the JSONL for quick look-ups and is rebuilt from it whenever it is missing or
does not match the JSONL's size.

scores.jsonl holds every scorer's scores (`ScoreRecord` lines, appended the same way);
`scores()` applies the one rule (the latest score of a name and version wins) over it
and over what older runs kept elsewhere (kubebench.runner.scores reads those).

Answers can hold secrets from the tasks: run folders are 0700 and their files 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from kubebench.errors import UserError
from kubebench.runner.records import AttemptRecord, RunMeta
from kubebench.scoring.base import Score, ScoreRecord

RUN_FILE = "run.json"
ATTEMPTS_FILE = "attempts.jsonl"
JUDGEMENTS_FILE = "judgements.jsonl"  # written by runs before scores.jsonl; read only
SCORES_FILE = "scores.jsonl"
INDEX_FILE = "index.sqlite"
LOCK_FILE = ".lock"
GARBLED_SUFFIX = ".garbled"  # attempts.jsonl.garbled: last lines set aside by a writer
INDEX_SCHEMA_VERSION = 1
FILE_MODE = 0o600
DIR_MODE = 0o700

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


def create_private_file(path: Path) -> None:
    """Create `path` (if missing) readable by its owner only, whatever the umask; an
    existing file is tightened to 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    """Create `path` and its parents; `path` itself ends up 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def dump_line(model: BaseModel) -> bytes:
    """One JSON line for `model`. Text with a lone surrogate (a model can answer one)
    cannot be UTF-8: such a record is written with \\uXXXX escapes instead, which JSON
    reads back to the same string."""
    try:
        return model.model_dump_json().encode() + b"\n"
    except PydanticSerializationError:
        data = json.dumps(model.model_dump(mode="json"), ensure_ascii=True)
        return data.encode() + b"\n"


def parse_attempt_line(line: bytes) -> AttemptRecord:
    """An `AttemptRecord` from one line; ValueError (ValidationError) if it is not one."""
    try:
        return AttemptRecord.model_validate_json(line)
    except ValidationError as exc:
        # pydantic's JSON parser refuses lone-surrogate escapes, which dump_line writes.
        if b"\\ud" not in line.lower() or exc.errors()[0]["type"] != "json_invalid":
            raise
    return AttemptRecord.model_validate(json.loads(line))


def _why_not_a_record(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _is_attempt_line(line: bytes) -> bool:
    try:
        parse_attempt_line(line)
    except ValueError:
        return False
    return True


def _line_number(path: Path, offset: int) -> int:
    with path.open("rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def _connect_index(path: Path) -> sqlite3.Connection:
    # The index is rebuilt from the JSONL whenever it disagrees with it, so it needs no
    # durability of its own: no fsync per attempt, only the JSONL's.
    create_private_file(path)
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
        self._scores_fd: int | None = None
        self._lock_fd: int | None = None
        self._index: sqlite3.Connection | None = None
        # Lines readers skipped or writers set aside, one sentence each, for the CLI.
        self.warnings: list[str] = []

    # -- paths ------------------------------------------------------------------------

    @property
    def attempts_path(self) -> Path:
        return self.run_dir / ATTEMPTS_FILE

    @property
    def judgements_path(self) -> Path:
        return self.run_dir / JUDGEMENTS_FILE

    @property
    def scores_path(self) -> Path:
        return self.run_dir / SCORES_FILE

    @property
    def index_path(self) -> Path:
        return self.run_dir / INDEX_FILE

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def create(cls, run_dir: Path, meta: RunMeta, *, lock: bool = False) -> RunStore:
        """Start a new run folder and write run.json; UserError if it is already a run.
        `lock=True` takes the writer lock first, so that no reader ever sees the run
        without its writer."""
        run_dir = Path(run_dir)
        if (run_dir / RUN_FILE).exists():
            raise UserError(
                f"{run_dir} already holds a run",
                hint=f"continue it: `kubebench run --resume {run_dir}` (or pick another --run-id)",
            )
        make_private_dir(run_dir)
        store = cls(run_dir, meta)
        if lock:
            store.lock()
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
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.meta.model_dump_json(indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.run_dir / RUN_FILE)

    def lock(self) -> None:
        """Take the run's writer lock; UserError if another process writes this run."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise UserError(
                f"another kubebench process is writing {self.run_dir}",
                hint="wait for it to finish, or stop it first",
            ) from exc
        self._lock_fd = fd
        self._tighten_modes()

    def _tighten_modes(self) -> None:
        """A run written by an older kubebench may be world-readable: make it private."""
        paths = [self.run_dir, *self.run_dir.iterdir()]
        for path in paths:
            if path.is_symlink() or not (path.is_file() or path == self.run_dir):
                continue
            with contextlib.suppress(OSError):  # not ours to change (another owner)
                os.chmod(path, DIR_MODE if path == self.run_dir else FILE_MODE)

    def close(self) -> None:
        for name in ("_attempts_fd", "_scores_fd", "_lock_fd"):
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

    def _append_fd(self, path: Path, is_valid: Callable[[bytes], bool]) -> int:
        """An O_APPEND descriptor, after setting aside a last line that a kill left
        half-written or that is garbled (`is_valid` says no): it moves to the side file
        `<name>.garbled`, so the next line starts clean and nothing is thrown away."""
        lines, end = read_jsonl_lines(path)
        cut = end
        if lines and not is_valid(lines[-1][1]):
            cut = lines[-1][0]
        if path.exists() and path.stat().st_size != cut:
            with path.open("r+b") as fh:
                fh.seek(cut)
                tail = fh.read()
                side = path.with_name(path.name + GARBLED_SUFFIX)
                fd = os.open(side, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
                with os.fdopen(fd, "ab") as kept:
                    kept.write(tail if tail.endswith(b"\n") else tail + b"\n")
                    kept.flush()
                    os.fsync(kept.fileno())
                fh.truncate(cut)
                os.fsync(fh.fileno())
            number = _line_number(path, cut)
            self._warn(
                f"{path} line {number} was cut short or garbled: set aside in {side.name} "
                f"({len(tail)} bytes)"
            )
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        return fd

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @staticmethod
    def _write_line(fd: int, model: BaseModel) -> int:
        """Append one JSON line, flush and fsync; return the byte offset it starts at."""
        data = dump_line(model)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        return os.fstat(fd).st_size - len(data)

    def append_attempt(self, rec: AttemptRecord) -> None:
        """Append one finished attempt (append + flush + fsync), then update the index."""
        if self._attempts_fd is None:
            self._attempts_fd = self._append_fd(self.attempts_path, _is_attempt_line)
        offset = self._write_line(self._attempts_fd, rec)
        index = self._ensure_index(known_size=offset)
        with index:
            index.execute(
                "INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                _index_row(rec, offset),
            )
            size = os.fstat(self._attempts_fd).st_size
            index.execute("UPDATE source SET size = ?", (size,))

    def append_score(self, rec: ScoreRecord) -> None:
        """Append one score to scores.jsonl (append + flush + fsync)."""
        if self._scores_fd is None:
            self._scores_fd = self._append_fd(self.scores_path, _is_json_object)
        self._write_line(self._scores_fd, rec)

    def append_judgement(self, rec: Any) -> None:
        """Append a `kubebench.judge.schema.JudgementRecord`, as the judge's score."""
        from kubebench.scoring.judge import judgement_score

        score = judgement_score(rec.judgement, None, created_by=rec.judge_id)
        self.append_score(ScoreRecord(attempt_key=rec.attempt_key, score=score))

    # -- reading ----------------------------------------------------------------------

    def _records_with_offsets(self) -> tuple[list[tuple[int, AttemptRecord]], int]:
        """Every attempt record of attempts.jsonl with its byte offset, and where the
        complete lines end. Lines that are not records are skipped and noted."""
        path = self.attempts_path
        lines, end = read_jsonl_lines(path)
        size = path.stat().st_size if path.exists() else 0
        if size != end:
            self._warn(
                f"{path} ends in a line cut short ({size - end} bytes): skipped; the next "
                f"write sets it aside in {ATTEMPTS_FILE}{GARBLED_SUFFIX}"
            )
        out = []
        for index, (offset, line) in enumerate(lines):
            try:
                out.append((offset, parse_attempt_line(line)))
            except ValueError as exc:
                last = index == len(lines) - 1
                fate = (
                    f"skipped; the next write sets it aside in {ATTEMPTS_FILE}{GARBLED_SUFFIX}"
                    if last
                    else "skipped"
                )
                self._warn(
                    f"{path} line {_line_number(path, offset)} is not an attempt record "
                    f"({_why_not_a_record(exc)[:120]}): {fate}"
                )
        return out, end

    def attempt_history(self) -> list[AttemptRecord]:
        """Every attempt record of attempts.jsonl, superseded ones included, in file
        order; lines that are not records are skipped and noted in `warnings`."""
        return [rec for _, rec in self._records_with_offsets()[0]]

    def attempts(self) -> list[AttemptRecord]:
        """The current record of each attempt: the last line of each attempt_key, in the
        order the keys first appeared."""
        return _latest(self.attempt_history())

    def _json_lines(self, path: Path) -> list[dict[str, Any]]:
        """A JSONL file's lines as plain dicts; lines that are not JSON objects are
        skipped and noted in `warnings`."""
        lines, _ = read_jsonl_lines(path)
        out = []
        for offset, line in lines:
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            if isinstance(data, dict):
                out.append(data)
                continue
            self._warn(f"{path} line {_line_number(path, offset)} is not a JSON object: skipped")
        return out

    def judgement_lines(self) -> list[dict[str, Any]]:
        """judgements.jsonl (written by older runs) as plain dicts."""
        return self._json_lines(self.judgements_path)

    def score_history(self, attempts: list[AttemptRecord] | None = None) -> list[ScoreRecord]:
        """Every score of the run, superseded ones included, oldest first: what older
        runs kept elsewhere (read as scores), then scores.jsonl. `attempts`: the
        current records, when the caller has read them already."""
        from kubebench.runner.scores import is_grader_line, legacy_score_records

        stored = []
        for data in self._json_lines(self.scores_path):
            try:
                stored.append(ScoreRecord.model_validate(data))
            except ValidationError as exc:
                self._warn(f"{self.scores_path}: a line is not a score ({_why_not_a_record(exc)})")
        history = self.attempt_history()
        current = attempts if attempts is not None else _latest(history)
        graded = {rec.attempt_key for rec in stored if is_grader_line(rec)}
        legacy = legacy_score_records(history, current, self.judgement_lines(), graded)
        return legacy + stored

    def scores(self, attempts: list[AttemptRecord] | None = None) -> dict[str, dict[str, Score]]:
        """attempt_key -> {`name@version` -> the latest Score} (the one rule)."""
        from kubebench.scoring.summary import current_scores

        return current_scores(self.score_history(attempts))

    def judgements(self, judge_id: str | None = None) -> list[Any]:
        """The judges' scores in store order (all, or one judge's), as
        `kubebench.judge.schema.JudgementRecord`."""
        from kubebench.judge.schema import JudgementRecord
        from kubebench.scoring.judge import is_judge_score, judge_score_name, score_judgement

        out = []
        for rec in self.score_history():
            name = rec.score.name
            if not is_judge_score(name) or (judge_id and name != judge_score_name(judge_id)):
                continue
            judgement = score_judgement(rec.score)
            when = {"created_at": rec.created_at} if rec.created_at else {}
            out.append(
                JudgementRecord(
                    attempt_key=rec.attempt_key,
                    judge_id=name.removeprefix("judge:"),
                    judgement=judgement,
                    **when,
                )
            )
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
        records, end = self._records_with_offsets()
        conn = _connect_index(tmp)
        conn.executescript(_INDEX_SCHEMA)
        with conn:
            for offset, rec in records:
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
            return parse_attempt_line(fh.readline())

    def pending_retries(self) -> dict[str, AttemptRecord]:
        """Attempts whose current record is an infrastructure error, by attempt_key."""
        conn = self._ensure_index()
        rows = conn.execute(
            "SELECT attempt_key, line_offset FROM attempts WHERE infrastructure_error IS NOT NULL"
        ).fetchall()
        return {key: self.record_at(offset) for key, offset in rows}


def _latest(history: list[AttemptRecord]) -> list[AttemptRecord]:
    latest: dict[str, AttemptRecord] = {}
    for rec in history:
        latest[rec.attempt_key] = rec
    return list(latest.values())


def is_run_dir(path: Path) -> bool:
    """True when `path` holds a run.json."""
    return (Path(path) / RUN_FILE).is_file()


__all__ = ["AttemptRecord", "RunMeta", "RunStore", "is_run_dir", "read_jsonl_lines"]
