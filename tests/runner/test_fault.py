"""Fault test: the cluster dies during `kubebench run`.

etcd or kube-apiserver of a control plane of the test's own is SIGKILLed while a run
grades on it. The run must end in under 30 s with exit 3 and one line saying why; a
`--resume` on a fresh control plane then grades every attempt, none twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from kubebench.cluster.binaries import BinarySet, resolve_binaries
from kubebench.cluster.controlplane import ControlPlane
from kubebench.runner.store import RunStore

STOP_WITHIN_S = 30.0


def _kubebench(*args: str) -> list[str]:
    return [sys.executable, "-m", "kubebench.cli.main", *args]


def _cluster_args(plane: ControlPlane) -> list[str]:
    assert plane.kubeconfig_path is not None
    return ["--kubeconfig", str(plane.kubeconfig_path), "--allow-external-writes"]


@pytest.fixture(scope="session")
def binaries() -> BinarySet:
    """Found before the runner tests point KUBEBENCH_CACHE_DIR at a private folder."""
    return resolve_binaries()


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["etcd", "kube-apiserver"])
def test_a_killed_control_plane_stops_the_run_fast_and_resume_completes_it(
    tmp_path: Path, victim: str, binaries: BinarySet
) -> None:
    run_dir = tmp_path / "fault"
    env = os.environ | {"COLUMNS": "200", "KUBEBENCH_PROGRESS_INTERVAL_S": "60"}
    with ControlPlane(binaries) as plane:
        cmd = _kubebench(
            "run", "--model", "oracle", "--stratified", "2", "--out", str(tmp_path),
            "--run-id", "fault", "--grading-concurrency", "4", *_cluster_args(plane),
        )  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        attempts = run_dir / "attempts.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if attempts.exists() and attempts.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1]
        os.kill(plane.pids[victim], signal.SIGKILL)
        killed = time.monotonic()
        try:
            _, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        stopped_s = time.monotonic() - killed
    print(f"\n{victim} killed: the run stopped after {stopped_s:.1f} s, exit {proc.returncode}")

    assert proc.returncode == 3, stderr
    assert stopped_s < STOP_WITHIN_S, stderr
    [message] = [line for line in stderr.splitlines() if "error" in line]
    assert "infrastructure error" in message and "stopped answering" in message
    assert f"kubebench run --resume {run_dir}" in message
    store = RunStore.open(run_dir)
    planned = store.meta.planned_attempts
    graded_before = {r.attempt_key for r in store.attempts() if r.graded}
    assert 5 <= len(graded_before) < planned
    store.close()

    with ControlPlane(binaries) as fresh:
        result = subprocess.run(
            _kubebench("run", "--resume", str(run_dir), *_cluster_args(fresh)),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
    assert result.returncode == 0, result.stderr
    store = RunStore.open(run_dir)
    records = store.attempts()
    assert len(records) == planned
    assert all(r.graded for r in records)  # 100 % graded
    assert all(r.success for r in records), [r.verdict for r in records if not r.success]
    lines = [json.loads(line) for line in attempts.read_text().splitlines()]
    graded_lines = Counter(x["attempt_key"] for x in lines if x["infrastructure_error"] is None)
    assert max(graded_lines.values()) == 1  # none graded twice
    assert set(graded_lines) == {r.attempt_key for r in records}
