"""Files registered with the server for download: adapters, merged models, datasets.

Only what `--register` named is served, looked up by id (the first 12 hex digits of its
sha256), never by a path from the request, so no URL can reach another file. A folder
is packed once into a reproducible .tar.gz (sorted entries, zeroed times and owners) in
the cache, reused while none of its files change."""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.settings import settings

_CARD = "README.md"
_DATASET_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".arrow")


@dataclass(frozen=True)
class Download:
    """One registered file or folder, and the file actually sent for it."""

    id: str
    name: str
    kind: str  # adapter | merged | dataset | file
    source: Path
    served: Path
    size: int
    sha256: str
    card: str | None

    def as_item(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "sha256": self.sha256,
            "card": self.card,
            "url": f"/downloads/{self.id}",
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(defaults.SERVE_DOWNLOAD_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _files_of(folder: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        out += [Path(root) / name for name in sorted(files)]
    return [p for p in out if p.is_file() and not p.is_symlink()]


def kind_of(path: Path) -> str:
    """What a registered path holds, from its files (PEFT's adapter_config.json, a
    transformers config with weights, dataset files)."""
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if "adapter_config.json" in names:
            return "adapter"
        if "config.json" in names and any(
            n.endswith((".safetensors", ".bin", ".gguf")) for n in names
        ):
            return "merged"
        if any(n.endswith(_DATASET_SUFFIXES) for n in names) or "dataset_info.json" in names:
            return "dataset"
        return "file"
    if path.suffix == ".gguf":
        return "merged"
    return "dataset" if path.name.endswith(_DATASET_SUFFIXES) else "file"


def pack_folder(folder: Path, cache_dir: Path) -> Path:
    """The folder as a reproducible .tar.gz in `cache_dir`, built once per content."""
    files = _files_of(folder)
    key = hashlib.sha256(str(folder).encode())
    for path in files:
        st = path.stat()
        key.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    target = cache_dir / f"{folder.name}-{key.hexdigest()[:16]}.tar.gz"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part{os.getpid()}")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in files:
            arcname = f"{folder.name}/{path.relative_to(folder)}"
            info = tar.gettarinfo(str(path), arcname=arcname)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o644
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    partial.replace(target)
    return target


class DownloadRegistry:
    """The registered downloads by id."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or settings().cache_dir / "serve-downloads"
        self.items: dict[str, Download] = {}

    def register(self, path: Path) -> Download:
        """Register a file or folder; UserError when it does not exist."""
        source = Path(path).expanduser().resolve()
        if not source.exists():
            raise UserError(f"--register {path}: no such file or folder")
        if source.is_dir():
            served = pack_folder(source, self.cache_dir)
            name = f"{source.name}.tar.gz"
            card_path = source / _CARD
            card = (
                card_path.read_text(encoding="utf-8", errors="replace")
                if card_path.is_file()
                else None
            )
        elif source.is_file():
            served, name, card = source, source.name, None
        else:
            raise UserError(f"--register {path}: not a regular file or folder")
        digest = sha256_of(served)
        item = Download(
            id=digest[:12],
            name=name,
            kind=kind_of(source),
            source=source,
            served=served,
            size=served.stat().st_size,
            sha256=digest,
            card=card,
        )
        self.items[item.id] = item
        return item

    def get(self, ident: str) -> Download | None:
        return self.items.get(ident)
