"""Streaming readers for the three input layouts, one file at a time, bounded memory.

- `corpus:PATH`: JSONL with `repo`, `commit`, `path`, `license`, `content` per line
  (the layout of shared/corpus; Markdown docs are recognised by their path).
- `stack:PATH`: The Stack's layout (and `substratusai/the-stack-yaml-k8s`'s): Parquet
  read one row group at a time, or JSONL, with `content`, `max_stars_repo_name`,
  `max_stars_repo_path`, `max_stars_repo_licenses`.
- `markdown:PATH`: a Markdown file or a folder of them (licence from `--default-license`).

PATH may be a file or a folder (its matching files, sorted). Bad input never stops a
build: an unreadable file, a line that is not JSON, an oversized record or binary
content becomes a `ReadSkip` with a reason, counted by the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.data.records import SourceFile
from kubebench.errors import UserError

SOURCE_KINDS = ("corpus", "stack", "markdown")
_SUFFIXES = {
    "corpus": (".jsonl", ".json"),
    "stack": (".parquet", ".jsonl", ".json"),
    "markdown": (".md", ".markdown"),
}


@dataclass(frozen=True)
class ReadSkip:
    """Input that could not become a SourceFile, and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class SourceSpec:
    """One `--source KIND:PATH`."""

    kind: str
    path: Path

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        kind, sep, path = text.partition(":")
        if not sep or kind not in SOURCE_KINDS or not path:
            raise UserError(
                f"bad --source {text!r}", hint=f"write KIND:PATH, KIND one of {SOURCE_KINDS}"
            )
        spec = cls(kind, Path(path))
        if not spec.path.exists():
            raise UserError(f"--source {text}: {spec.path} does not exist")
        return spec

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"

    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        found = sorted(
            p
            for p in self.path.rglob("*")
            if p.is_file() and p.suffix.lower() in _SUFFIXES[self.kind]
        )
        if not found:
            raise UserError(
                f"--source {self}: no {'/'.join(_SUFFIXES[self.kind])} files under {self.path}"
            )
        return found


def binary_reason(content: str) -> str | None:
    """Why text looks binary (NUL bytes, many control characters), or None."""
    if "\x00" in content:
        return "binary content (NUL bytes)"
    sample = content[:8192]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    if sample and control / len(sample) > 0.01:
        return "binary content (control characters)"
    return None


def _licenses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v)
    return ()


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _record_to_file(
    record: Any, source: str, where: str, *, stack: bool, default_license: str | None
) -> SourceFile | ReadSkip:
    if not isinstance(record, dict):
        return ReadSkip(where, "record is not a JSON object")
    content = _text(record.get("content"))
    if content is None:
        if record.get("content") is None:
            return ReadSkip(where, "record has no content")
        return ReadSkip(where, "binary content (not UTF-8)")
    if (reason := binary_reason(content)) is not None:
        return ReadSkip(where, reason)
    if len(content) > defaults.DATA_MAX_RECORD_BYTES:
        return ReadSkip(where, f"content over {defaults.DATA_MAX_RECORD_BYTES} bytes")
    if stack:
        repo, path = record.get("max_stars_repo_name"), record.get("max_stars_repo_path")
        licenses = _licenses(record.get("max_stars_repo_licenses"))
        commit = record.get("max_stars_repo_head_hexsha") or ""
    else:
        repo, path = record.get("repo"), record.get("path")
        licenses = _licenses(record.get("license"))
        commit = record.get("commit") or ""
    if not licenses and default_license:
        licenses = (default_license,)
    return SourceFile(
        source=source,
        repo=str(repo or "<unknown>"),
        path=str(path or "<unknown>"),
        license=licenses,
        content=content,
        commit=str(commit),
    )


def _jsonl_lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw line) with oversized lines yielded as None, never loaded whole."""
    limit = defaults.DATA_MAX_RECORD_BYTES
    with path.open("rb") as fh:
        number = 0
        while True:
            line = fh.readline(limit + 1)
            if not line:
                return
            number += 1
            if len(line) > limit and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):
                    line = fh.readline(1 << 20)
                yield number, None
                continue
            if line.strip():
                yield number, line


def read_jsonl(
    path: Path, source: str, *, stack: bool, default_license: str | None
) -> Iterator[SourceFile | ReadSkip]:
    for number, raw in _jsonl_lines(path):
        where = f"{path}:{number}"
        if raw is None:
            yield ReadSkip(where, f"line over {defaults.DATA_MAX_RECORD_BYTES} bytes")
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            yield ReadSkip(where, f"line is not JSON ({str(exc).split(':')[0]})")
            continue
        yield _record_to_file(record, source, where, stack=stack, default_license=default_license)


def read_parquet(
    path: Path, source: str, *, default_license: str | None
) -> Iterator[SourceFile | ReadSkip]:
    """The Stack's Parquet, one row group in memory at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        yield ReadSkip(str(path), f"not a readable Parquet file ({_first_line(exc)})")
        return
    wanted = (
        "content",
        "max_stars_repo_name",
        "max_stars_repo_path",
        "max_stars_repo_licenses",
        "max_stars_repo_head_hexsha",
    )
    names = set(parquet.schema_arrow.names)
    if "content" not in names:
        yield ReadSkip(str(path), "Parquet file has no `content` column")
        return
    columns = [c for c in wanted if c in names]
    for group in range(parquet.num_row_groups):
        try:
            table = parquet.read_row_group(group, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            yield ReadSkip(f"{path}#rg{group}", f"unreadable row group ({_first_line(exc)})")
            continue
        data = {name: table.column(name).to_pylist() for name in columns}
        del table
        for row in range(len(data["content"])):
            record = {name: data[name][row] for name in columns}
            yield _record_to_file(
                record, source, f"{path}#rg{group}:{row}", stack=True,
                default_license=default_license,
            )  # fmt: skip
        del data


def read_markdown(
    path: Path, root: Path, source: str, *, default_license: str | None
) -> Iterator[SourceFile | ReadSkip]:
    size = path.stat().st_size
    if size > defaults.DATA_MAX_RECORD_BYTES:
        yield ReadSkip(str(path), f"file over {defaults.DATA_MAX_RECORD_BYTES} bytes")
        return
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        yield ReadSkip(str(path), "binary content (not UTF-8)")
        return
    if (reason := binary_reason(content)) is not None:
        yield ReadSkip(str(path), reason)
        return
    base = root if root.is_dir() else root.parent
    yield SourceFile(
        source=source,
        repo=base.name or "<local>",
        path=str(path.relative_to(base)),
        license=(default_license,) if default_license else (),
        content=content,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def read_source(
    spec: SourceSpec, *, default_license: str | None = None
) -> Iterator[SourceFile | ReadSkip]:
    """Every file of one source, in a stable order."""
    for path in spec.files():
        if spec.kind == "markdown":
            yield from read_markdown(path, spec.path, str(spec), default_license=default_license)
        elif spec.kind == "stack" and path.suffix.lower() == ".parquet":
            yield from read_parquet(path, str(spec), default_license=default_license)
        else:
            yield from read_jsonl(
                path, str(spec), stack=spec.kind == "stack", default_license=default_license
            )
