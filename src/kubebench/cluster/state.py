"""The state file of a detached control plane (`kubebench cluster up --detach`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydantic import BaseModel, ValidationError

from kubebench.cluster.processes import pid_alive
from kubebench.settings import settings


class ClusterState(BaseModel):
    """What `status`, `env` and `down` need to find a detached control plane."""

    supervisor_pid: int
    server: str
    kubeconfig: str
    workdir: str
    pids: dict[str, int]
    version: str
    started_at: float
    startup_seconds: float

    def alive(self) -> bool:
        return pid_alive(self.supervisor_pid)


def state_path() -> Path:
    return settings().state_dir / "cluster.json"


def error_path() -> Path:
    """Where a detached supervisor writes its one-line start-up error."""
    return settings().state_dir / "cluster.error"


def read_state() -> ClusterState | None:
    """The recorded state, or None. An unreadable file is reported as None plus removed."""
    path = state_path()
    if not path.exists():
        return None
    try:
        return ClusterState.model_validate_json(path.read_text())
    except (ValidationError, ValueError, OSError):
        path.unlink(missing_ok=True)
        return None


def write_state(state: ClusterState) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.model_dump(), indent=2))
    tmp.replace(path)  # atomic: readers never see half a file


def clear_state(state: ClusterState | None = None) -> None:
    """Remove the state file and, when given, the stale cluster's working folder."""
    state_path().unlink(missing_ok=True)
    if state is not None:
        shutil.rmtree(Path(state.workdir), ignore_errors=True)
