"""`kubebench grade` end to end, as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.grading.pipeline import settle_cleanups
from tests.grading.builders import configmap_task, configmap_yaml

KUBEBENCH = str(Path(sys.executable).with_name("kubebench"))


@pytest.fixture(autouse=True)
async def idle_grader(kube: KubeClient) -> None:
    """This process gives the grader Lease back once its cleanups are done; a blocking
    subprocess call would keep them (and the Lease) waiting."""
    await settle_cleanups(kube)


def run_grade(
    plane: ControlPlane, tmp_path: Path, answer: str, *extra: str
) -> subprocess.CompletedProcess:
    task = configmap_task("gc-cli")
    task_file = tmp_path / "task.json"
    task_file.write_text(task.model_dump_json())
    answer_file = tmp_path / "answer.md"
    answer_file.write_text(answer)
    cmd = [
        KUBEBENCH, "grade", "--task-file", str(task_file), "--answer", str(answer_file),
        "--kubeconfig", str(plane.kubeconfig_path), "--allow-external-writes", *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_grade_passes_and_prints_json(control_plane: ControlPlane, tmp_path: Path) -> None:
    done = run_grade(control_plane, tmp_path, configmap_yaml("gc-cli"), "--json")
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["stage"] == "passed" and verdict["runtime_valid"] is True


def test_grade_failure_exits_1_with_the_reason(control_plane: ControlPlane, tmp_path: Path) -> None:
    done = run_grade(control_plane, tmp_path, configmap_yaml("gc-cli", mode="slow"))
    assert done.returncode == 1, done.stderr
    assert "FAIL" in done.stdout and "data.mode is 'slow'" in done.stdout


def test_user_errors_exit_2_in_one_line(control_plane: ControlPlane, tmp_path: Path) -> None:
    done = subprocess.run(
        [KUBEBENCH, "grade", "--task", "no-such-task-999", "--answer", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown task id 'no-such-task-999'")
    assert "Traceback" not in done.stderr
    prose = run_grade(control_plane, tmp_path, "x")  # graded (no YAML), not a usage error
    assert prose.returncode == 1 and "no YAML found in the answer" in prose.stdout
    done = subprocess.run(
        [KUBEBENCH, "grade", "--task-file", str(tmp_path / "task.json"), "--answer",
         str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "cannot read answer file" in done.stderr


def test_grade_has_help() -> None:
    done = subprocess.run([KUBEBENCH, "grade", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--answer" in done.stdout and "--json" in done.stdout
