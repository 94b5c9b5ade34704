"""Reading runs for reports: one consistent snapshot of a run folder, and the runs under
a folder.

A report may read a run that `kubebench run` is still writing. The store's readers see
only complete lines, and a snapshot reads attempts.jsonl once, so every figure of one
report comes from the same attempts; the snapshot also says whether a writer holds the
run's lock (from /proc/locks, without touching the lock itself, so a writer starting at
that moment is never refused).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kubebench.errors import UserError
from kubebench.runner.store import LOCK_FILE, AttemptRecord, RunMeta, RunStore, is_run_dir
from kubebench.scoring.base import Score


@dataclass
class RunSnapshot:
    """A run as read at one moment."""

    run_dir: Path
    meta: RunMeta
    attempts: list[AttemptRecord]
    # attempt_key -> `name@version` -> the current Score (RunStore.scores())
    scores: dict[str, dict[str, Score]] = field(default_factory=dict)
    writer_active: bool | None = None  # None: cannot tell on this system
    warnings: list[str] = field(default_factory=list)  # lines the store skipped

    @property
    def label(self) -> str:
        return self.meta.run_id or self.run_dir.name


def writer_holds_lock(run_dir: Path) -> bool | None:
    """True when some process holds an flock on the run's lock file (Linux /proc/locks);
    None where that cannot be read."""
    lock = Path(run_dir) / LOCK_FILE
    try:
        st = lock.stat()
    except FileNotFoundError:
        return False
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" ("->" marks a waiter)
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        if parts[5] == wanted:
            return True
    return False


def read_run(run_dir: Path) -> RunSnapshot:
    """A snapshot of the run in `run_dir`; a one-line UserError for a missing folder or
    one that is not a kubebench run."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"{run_dir} does not exist", hint="runs live in runs/<run-id>/")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a folder", hint="pass a run folder, runs/<run-id>/")
    active = writer_holds_lock(run_dir)
    with RunStore.open(run_dir) as store:
        attempts = store.attempts()
        scores = store.scores(attempts)
        warnings = list(store.warnings)  # lines the store skipped, one sentence each
        return RunSnapshot(run_dir, store.meta, attempts, scores, active, warnings)


@dataclass
class RunListing:
    """The runs under a folder, and the sub-folders that could not be read as runs."""

    runs: list[RunSnapshot]
    skipped: list[tuple[Path, str]]


def read_runs(runs_dir: Path) -> RunListing:
    """Every run directly under `runs_dir` (or `runs_dir` itself when it is one); a
    UserError when it is missing or holds no run."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise UserError(f"{runs_dir} is not a folder", hint="pass the folder that holds runs/")
    candidates = [runs_dir] if is_run_dir(runs_dir) else sorted(runs_dir.iterdir())
    runs, skipped = [], []
    for path in candidates:
        if not path.is_dir() or not is_run_dir(path):
            continue
        try:
            runs.append(read_run(path))
        except UserError as exc:
            skipped.append((path, exc.one_line()))
    if not runs:
        detail = f" ({len(skipped)} unreadable: {skipped[0][1]})" if skipped else ""
        raise UserError(
            f"{runs_dir} holds no kubebench runs{detail}",
            hint="`kubebench run` writes runs/<run-id>/run.json",
        )
    return RunListing(runs, skipped)
