"""`kubebench cluster ...` as a user types it, including the ways it can go wrong."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kubebench import defaults
from kubebench.cluster.processes import pid_alive
from kubebench.settings import settings


def kubebench(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kubebench.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """A private state folder, so these tests never touch a user's detached cluster."""
    return {**os.environ, "KUBEBENCH_STATE_DIR": str(tmp_path / "state")}


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_detached_lifecycle(cli_env: dict[str, str], tmp_path: Path) -> None:
    up = kubebench("cluster", "up", "--detach", env=cli_env)
    assert up.returncode == 0, up.stderr
    export = next(ln for ln in up.stdout.splitlines() if ln.startswith("export KUBECONFIG="))
    kubeconfig = export.split("=", 1)[1]
    state = json.loads((tmp_path / "state" / "cluster.json").read_text())
    try:
        again = kubebench("cluster", "up", "--detach", env=cli_env)
        assert "already running" in _one_line_error(again)

        status = kubebench("cluster", "status", env=cli_env)
        assert status.returncode == 0, status.stderr
        assert "v1.37.2" in status.stdout and state["server"] in status.stdout

        env_out = kubebench("cluster", "env", env=cli_env)
        assert env_out.stdout.strip() == export

        kubectl = shutil.which("kubectl")
        if kubectl:  # what a user would type; the product itself never needs kubectl
            got = subprocess.run(
                [kubectl, "--kubeconfig", kubeconfig, "get", "ns", "-o", "name"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert "namespace/default" in got.stdout, got.stderr
    finally:
        down = kubebench("cluster", "down", env=cli_env)
    assert down.returncode == 0, down.stderr
    assert not pid_alive(state["supervisor_pid"])
    assert not [n for n, pid in state["pids"].items() if pid_alive(pid)]
    assert not Path(state["workdir"]).exists()
    assert not (tmp_path / "state" / "cluster.json").exists()
    after = kubebench("cluster", "status", env=cli_env)
    assert after.returncode == 1 and "no detached control plane" in after.stdout


def test_stale_state_file_is_reported_and_cleared(cli_env: dict[str, str], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    workdir = state_dir / "clusters" / "old"
    workdir.mkdir(parents=True)
    (state_dir / "cluster.json").write_text(
        json.dumps(
            {
                "supervisor_pid": dead.pid,
                "server": "https://127.0.0.1:1",
                "kubeconfig": str(workdir / "kubeconfig"),
                "workdir": str(workdir),
                "pids": {},
                "version": "v1.37.2",
                "started_at": 0.0,
                "startup_seconds": 1.0,
            }
        )
    )
    status = kubebench("cluster", "status", env=cli_env)
    assert status.returncode == 1 and "stale state" in status.stdout
    down = kubebench("cluster", "down", env=cli_env)
    assert down.returncode == 0 and "stale" in down.stderr
    assert not (state_dir / "cluster.json").exists() and not workdir.exists()


def test_corrupt_state_file_does_not_crash(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "cluster.json").write_text("{not json")
    status = kubebench("cluster", "status", env=cli_env)
    assert status.returncode == 1 and "Traceback" not in status.stderr


def test_port_already_taken_is_one_line(cli_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind((defaults.BIND_ADDRESS, 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = kubebench("cluster", "up", "--port", str(port), env=cli_env)
    line = _one_line_error(result)
    assert f"port {port}" in line and "already in use" in line


def test_missing_binaries_name_every_way_out(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "KUBEBENCH_CACHE_DIR": str(tmp_path / "empty-cache")}
    env.pop("KUBEBENCH_ASSETS", None)
    env.pop("KUBEBUILDER_ASSETS", None)
    line = _one_line_error(kubebench("cluster", "up", env=env))
    for way_out in ("KUBEBENCH_ASSETS", "KUBEBUILDER_ASSETS", "kubebench cluster build"):
        assert way_out in line


def test_corrupt_binary_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in defaults.BINARY_NAMES:
        (assets / name).symlink_to(settings().binary_cache_dir / name)
    (assets / "kube-apiserver").unlink()
    (assets / "kube-apiserver").write_bytes(b"#!garbage\x00\x01")
    (assets / "kube-apiserver").chmod(0o755)
    line = _one_line_error(
        kubebench("cluster", "up", env={**cli_env, "KUBEBENCH_ASSETS": str(assets)})
    )
    assert "kube-apiserver" in line and "not a Linux executable" in line


def test_binary_that_crashes_at_start_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A binary that is an executable but dies at once (wrong file, truncated build)."""
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in defaults.BINARY_NAMES:
        (assets / name).symlink_to(settings().binary_cache_dir / name)
    (assets / "etcd").unlink()
    (assets / "etcd").symlink_to(shutil.which("false") or "/bin/false")
    result = kubebench("cluster", "up", env={**cli_env, "KUBEBENCH_ASSETS": str(assets)})
    assert result.returncode in (2, 3) and "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "etcd exited during start-up" in lines[0]


def test_go_build_failure_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A real `go` that cannot reach any module source fails; the user gets one line."""
    env = {
        **cli_env,
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOMODCACHE": str(tmp_path / "empty-modcache"),
        "GOCACHE": str(tmp_path / "gocache"),
    }
    result = kubebench("cluster", "build", "--dest", str(tmp_path / "bin"), env=env)
    line = _one_line_error(result)
    assert "go" in line and "failed" in line
    assert not (tmp_path / "bin" / "kube-apiserver").exists()


def test_build_without_go_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "PATH": str(Path(sys.executable).parent)}
    line = _one_line_error(kubebench("cluster", "build", "--dest", str(tmp_path / "b"), env=env))
    assert "`go` is not on PATH" in line
