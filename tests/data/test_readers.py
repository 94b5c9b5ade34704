"""Readers: the three layouts, and bad input as counted skips, never a crash."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kubebench import defaults
from kubebench.data.readers import ReadSkip, SourceSpec, read_source
from kubebench.data.records import SourceFile
from kubebench.errors import UserError
from tests.data.conftest import record, write_jsonl

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n"


def _read(text: str, **kw: object) -> list[SourceFile | ReadSkip]:
    return list(read_source(SourceSpec.parse(text), **kw))  # type: ignore[arg-type]


def test_corpus_jsonl_with_a_non_json_line_and_an_oversized_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [record(CM)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
        fh.write('{"content": "' + "x" * (defaults.DATA_MAX_RECORD_BYTES + 10) + '"}\n')
        fh.write('"a string"\n')
    items = _read(f"corpus:{path}")
    assert isinstance(items[0], SourceFile) and items[0].repo == "acme/infra"
    assert items[0].license == ("Apache-2.0",)
    reasons = [i.reason for i in items[1:] if isinstance(i, ReadSkip)]
    assert reasons[0].startswith("line is not JSON")
    assert reasons[1] == f"line over {defaults.DATA_MAX_RECORD_BYTES} bytes"
    assert reasons[2] == "record is not a JSON object"


def test_a_50_mb_file_is_skipped_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        fh.write('{"repo": "a/b", "path": "x.yaml", "content": "')
        chunk = "k: v\\n" * 1000
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            fh.write(chunk)
        fh.write('"}\n')
    md = tmp_path / "md"
    md.mkdir()
    (md / "huge.md").write_bytes(b"# t\n" + b"word " * (11 * 1024 * 1024))
    items = _read(f"corpus:{path}") + _read(f"markdown:{md}")
    assert [type(i) for i in items] == [ReadSkip, ReadSkip]
    assert all("over" in i.reason for i in items)  # type: ignore[union-attr]


def test_binary_content_is_a_reasoned_skip(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [record("kind: x\x00\x01\x02")])
    md = tmp_path / "md"
    md.mkdir()
    (md / "bin.md").write_bytes(b"\xff\xfe\x00binary")
    items = _read(f"corpus:{path}") + _read(f"markdown:{md}")
    assert [i.reason for i in items] == [  # type: ignore[union-attr]
        "binary content (NUL bytes)",
        "binary content (not UTF-8)",
    ]


def _stack_table(contents: list[bytes]) -> pa.Table:
    n = len(contents)
    return pa.table({
        "content": pa.array(contents, pa.binary()),
        "max_stars_repo_name": [f"org/repo{i}" for i in range(n)],
        "max_stars_repo_path": [f"k8s/{i}.yaml" for i in range(n)],
        "max_stars_repo_licenses": [["MIT"]] * n,
    })  # fmt: skip


def test_stack_parquet_row_group_by_row_group(tmp_path: Path) -> None:
    path = tmp_path / "stack.parquet"
    pq.write_table(_stack_table([CM.encode()] * 5 + [b"\xff\xfebad"]), path, row_group_size=2)
    assert pq.ParquetFile(path).num_row_groups == 3
    items = _read(f"stack:{path}")
    files = [i for i in items if isinstance(i, SourceFile)]
    assert len(files) == 5 and files[0].repo == "org/repo0" and files[0].license == ("MIT",)
    assert [i.reason for i in items if isinstance(i, ReadSkip)] == ["binary content (not UTF-8)"]


def test_malformed_parquet_is_a_counted_skip(tmp_path: Path) -> None:
    good = tmp_path / "a.parquet"
    pq.write_table(_stack_table([CM.encode()]), good)
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"PAR1 this is not really parquet PAR1")
    truncated = tmp_path / "c.parquet"
    truncated.write_bytes(good.read_bytes()[:-40])
    items = _read(f"stack:{tmp_path}")
    assert isinstance(items[0], SourceFile)
    skips = [i for i in items if isinstance(i, ReadSkip)]
    assert len(skips) == 2
    assert all(s.reason.startswith("not a readable Parquet file") for s in skips)


def test_markdown_folder_takes_the_default_license(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nSome text.\n")
    items = _read(f"markdown:{tmp_path}", default_license="CC-BY-4.0")
    assert isinstance(items[0], SourceFile) and items[0].is_markdown
    assert items[0].license == ("CC-BY-4.0",)


@pytest.mark.parametrize("text", ["corpus", "nope:/x", "corpus:/does/not/exist"])
def test_bad_source_spec_is_a_user_error(text: str) -> None:
    with pytest.raises(UserError):
        SourceSpec.parse(text)
