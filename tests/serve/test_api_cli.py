"""`kubebench serve` as a command: refuses an unsafe bind in one line, and serves chat
and validation (on a control plane it starts itself) until interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kubebench.cluster.controlplane import free_port
from tests.serve.conftest import chat_script

KUBEBENCH = [sys.executable, "-c", "from kubebench.cli.main import main; main()"]


def _env(tmp_path: Path) -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    # A private state folder: the command starts its own control plane, never attaches.
    return {**os.environ, "PYTHONPATH": src, "KUBEBENCH_STATE_DIR": str(tmp_path / "state")}


def test_non_loopback_host_without_key_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [*KUBEBENCH, "serve", "--host", "0.0.0.0", "--no-validate"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 2
    assert "without an API key" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_serve_command_answers_chat_and_validation(tmp_path: Path) -> None:
    model = chat_script(tmp_path / "chat.json", "hello")
    port = free_port()
    proc = subprocess.Popen(
        [*KUBEBENCH, "serve", "--model", model, "--port", str(port), "--runs", str(tmp_path)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                health = httpx.get(f"{url}/health")
                if health.status_code == 200 and health.json()["validation"] == "ready":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kubebench serve did not become ready"
            time.sleep(0.2)
        reply = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        ).json()
        assert reply["choices"][0]["message"]["content"] == "hello"
        bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n"
        doc = httpx.post(f"{url}/v1/validate", json={"yaml": bad}, timeout=30).json()
        assert 'ConfigMap "Bad_Name" is invalid' in doc["documents"][0]["message"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, proc.stdout.read() if proc.stdout else ""
