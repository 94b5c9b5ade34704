"""Downloads: only registered files, by id, with size, sha256 and model card; every
traversal attempt gets 404."""

from __future__ import annotations

import hashlib
import http.client
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kubebench.errors import UserError
from kubebench.serve.downloads import DownloadRegistry
from tests.serve.conftest import RunningServer


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A dataset file, an adapter folder with a model card, and a secret beside them."""
    data = tmp_path / "pub" / "train.jsonl"
    data.parent.mkdir()
    data.write_text('{"messages": []}\n' * 100)
    adapter = tmp_path / "pub" / "lora-k8s"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 16}')
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 4096)
    (adapter / "README.md").write_text("# lora-k8s\nA LoRA adapter.\n")
    secret = tmp_path / "pub" / "secret.txt"
    secret.write_text("do not serve")
    return data, adapter, secret


def _raw_get(url: str, path: str) -> int:
    """GET a path exactly as written (httpx would normalise `..` away)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_registered_files_are_listed_and_served_with_matching_sha256(
    start_server: Callable[..., RunningServer], registered: tuple[Path, Path, Path]
) -> None:
    data, adapter, _ = registered
    url = start_server(register=[data, adapter]).url
    listing = httpx.get(f"{url}/api/downloads").json()
    assert listing["total"] == 2
    by_name = {item["name"]: item for item in listing["items"]}
    dataset, lora = by_name["train.jsonl"], by_name["lora-k8s.tar.gz"]
    assert dataset["kind"] == "dataset" and dataset["size"] == data.stat().st_size
    assert dataset["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert dataset["card"] is None
    assert lora["kind"] == "adapter" and lora["card"].startswith("# lora-k8s")
    for item in (dataset, lora):
        resp = httpx.get(f"{url}/downloads/{item['id']}")
        assert resp.status_code == 200
        assert hashlib.sha256(resp.content).hexdigest() == item["sha256"]
        assert len(resp.content) == item["size"] and item["id"] == item["sha256"][:12]
    packed = httpx.get(f"{url}/downloads/{lora['id']}").content
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == [
            "lora-k8s/README.md",
            "lora-k8s/adapter_config.json",
            "lora-k8s/adapter_model.safetensors",
        ]


@pytest.mark.parametrize(
    "path",
    [
        "/downloads/../pub/secret.txt",
        "/downloads/..%2Fsecret.txt",
        "/downloads/%2e%2e/%2e%2e/etc/passwd",
        "/downloads/%2e%2e",
        "/downloads/..",
        "/downloads//etc/passwd",
        "/downloads/%2Fetc%2Fpasswd",
        "/downloads/secret.txt",
        "/downloads/000000000000",
        "/downloads/",
    ],
)
def test_traversal_and_unregistered_paths_get_404(
    start_server: Callable[..., RunningServer], registered: tuple[Path, Path, Path], path: str
) -> None:
    data, _, secret = registered
    url = start_server(register=[data]).url
    assert _raw_get(url, path) == 404
    assert _raw_get(url, f"/downloads/{secret}") == 404  # an absolute path


def test_a_folder_is_packed_once_and_reproducibly(
    tmp_path: Path, registered: tuple[Path, Path, Path]
) -> None:
    _, adapter, _ = registered
    first = DownloadRegistry(tmp_path / "cache").register(adapter)
    second = DownloadRegistry(tmp_path / "cache").register(adapter)
    assert first.served == second.served and first.sha256 == second.sha256
    other = DownloadRegistry(tmp_path / "elsewhere").register(adapter)
    assert other.sha256 == first.sha256  # same content, same bytes
    with pytest.raises(UserError, match="no such file"):
        DownloadRegistry(tmp_path / "cache").register(tmp_path / "missing")
