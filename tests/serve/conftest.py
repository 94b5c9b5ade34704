"""A real `kubebench serve` app on uvicorn, on a free loopback port, in a thread.

    @pytest.mark.parametrize("serve_url", [{"models": [...], "cluster": True}], indirect=True)
    def test_x(serve_url: str): ...

`serve_url` takes any ServeSettings field as a parameter (models, runs_dir, register,
api_key, rate_per_s, ...) plus `cluster: True` for /v1/validate on the session's control
plane; without parameters it serves one scripted chat model (`CHAT_MODEL`, answering
`CHAT_ANSWER`). `start_server(**params)` starts more in one test; `RunningServer.app`
is the app (its `state.serve` holds the pool, metrics, ...). `runs_dir` is a runs folder
with one finished run (`old-run`) to pass as `runs_dir=`.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="kubebench serve needs the serve extra")
pytest.importorskip("uvicorn", reason="kubebench serve needs the serve extra")

from kubebench.serve.app import create_app
from kubebench.serve.settings import ServeSettings

CHAT_ANSWER = (
    "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: b\n```\n"
)
START_TIMEOUT_S = 30.0
OLD_RUN = Path(__file__).parent.parent / "fixtures" / "old-run"


@dataclass
class RunningServer:
    url: str
    app: Any
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def chat_script(path: Path, answers: str | list[str] = CHAT_ANSWER) -> str:
    """Write a scripted chat double's file; returns its model id."""
    path.write_text(json.dumps({"*": answers}))
    return f"scripted:{path}"


def wait_healthy(url: str, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/health").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} not healthy after {timeout_s}s")


def launch(settings: ServeSettings, *, wait: bool = True) -> RunningServer:
    """Start uvicorn on 127.0.0.1 port 0 (the kernel picks a free one) in a thread."""
    import uvicorn

    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kubebench-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    running = RunningServer(f"http://127.0.0.1:{port}", app, server, thread)
    if wait:
        wait_healthy(running.url)
    return running


@pytest.fixture
def start_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RunningServer]]:
    """`start_server(models=..., cluster=True, wait=True, **ServeSettings fields)`;
    every server it started is stopped after the test."""
    started: list[RunningServer] = []

    def start(*, cluster: bool = False, wait: bool = True, **params: Any) -> RunningServer:
        if "models" not in params:
            folder = tmp_path_factory.mktemp("serve-chat")
            params["models"] = [chat_script(folder / "chat.json")]
        params.setdefault("download_cache", tmp_path_factory.mktemp("serve-downloads"))
        if cluster:
            params["connection"] = request.getfixturevalue("connection")
        running = launch(ServeSettings(**params), wait=wait)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A runs folder holding a copy of tests/fixtures/old-run (oracle, 4 tasks, a judge),
    for `runs_dir=` of a server (reading a run may write its index: never the fixture)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(OLD_RUN, runs / "old-run")
    return runs


@pytest.fixture
def serve_url(request: pytest.FixtureRequest, start_server: Callable[..., RunningServer]) -> str:
    """The base URL (no trailing slash) of a started server; parameters as for
    `start_server`, given with `indirect=True`."""
    params = dict(getattr(request, "param", None) or {})
    return start_server(**params).url
