"""Safe parsing: kubectl's YAML 1.1 scalars, limits, and precise one-line failures."""

from __future__ import annotations

import pytest

from kubebench.grading.extract import YamlBlock, extract_yaml
from kubebench.grading.parse import (
    AnswerParseError,
    ParseLimits,
    decode_answer,
    parse_documents,
)

HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"


def parse(text: str, **limits: int) -> list[dict]:
    docs = parse_documents([YamlBlock(text, 1, fenced=False)], limits=ParseLimits(**limits))
    return [d.obj for d in docs]


def reason(text: str, **limits: int) -> str:
    with pytest.raises(AnswerParseError) as info:
        parse(text, **limits)
    return info.value.reason


def test_multi_document_stream_skips_empty_documents() -> None:
    second = HEAD.replace("name: a", "name: b")
    objs = parse(f"---\n{HEAD}---\n---\n# only a comment\n---\n{second}")
    assert [o["metadata"]["name"] for o in objs] == ["a", "b"]


def test_list_kinds_are_expanded_to_their_items() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    )
    assert [(o["kind"], o["metadata"]["name"]) for o in parse(text)] == [
        ("ConfigMap", "x"),
        ("Secret", "s"),
    ]


def test_bare_y_and_n_are_booleans_even_as_keys_as_in_go_yaml_v2() -> None:
    obj = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata:\n  y: n\n")[0]
    assert obj["metadata"]["name"] is True
    assert obj["data"] == {"true": False}
    assert "duplicate key 'true'" in reason(HEAD + "data:\n  y: '1'\n  on: '2'\n")


def test_scalars_resolve_as_kubectl_sends_them() -> None:
    data = parse(
        HEAD + "data:\n  a: yes\n  b: 'yes'\n  c: 0755\n  d: 1:20\n  e: 3.0\n  f: 1e3\n"
        "  g: 2024-01-02\n  h: ~\n  i: 08\n  j: 0x1F\n  k: off\n  l: 1_000\n"
    )[0]["data"]
    assert data == {
        "a": True,
        "b": "yes",
        "c": 493,
        "d": "1:20",
        "e": 3,
        "f": 1000,
        "g": "2024-01-02T00:00:00Z",
        "h": None,
        "i": 8,
        "j": 31,
        "k": False,
        "l": 1000,
    }


def test_timestamps_become_rfc3339_strings_as_encoding_json_writes_them() -> None:
    data = parse(
        HEAD + "data:\n  a: 2024-01-02T10:00:00+02:00\n  b: 2024-1-2 3:04:05\n"
        "  c: 2024-01-02T10:00:00.500Z\n  d: 2024-01-02T10:00:00\n  e: 2024-13-01\n"
    )[0]["data"]
    assert data == {
        "a": "2024-01-02T10:00:00+02:00",
        "b": "2024-01-02T03:04:05Z",
        "c": "2024-01-02T10:00:00.5Z",
        "d": "2024-01-02T10:00:00",  # the T layouts need a zone: a plain string
        "e": "2024-13-01",  # no such month: a plain string
    }


def test_merge_keys_and_aliases() -> None:
    obj = parse(HEAD + "base: &b {x: '1', z: '2'}\ndata:\n  <<: *b\n  z: '3'\n")[0]
    assert obj["data"] == {"x": "1", "z": "3"}


def test_duplicate_key_names_both_lines() -> None:
    assert reason(HEAD + "data:\n  a: '1'\n  a: '2'\n") == (
        "duplicate key 'a' at line 7 (first at line 6)"
    )


def test_billion_laughs_stops_early() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    why = reason("\n".join(lines) + "\n" + HEAD)
    assert "more than 100000 nodes" in why and "alias" in why


def test_expanded_scalar_bytes_are_bounded_too() -> None:
    text = f"big: &x '{'y' * 1000}'\nrefs: [{', '.join(['*x'] * 200)}]\n" + HEAD
    assert "of scalar text" in reason(text, max_expanded_bytes=100_000)


def test_recursive_alias_is_refused() -> None:
    assert reason("a: &a [1, *a]\n") == "recursive alias *a at line 1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- 1\n- 2\n", "document 1 (line 1) is a list, not a Kubernetes object (a mapping)"),
        ("just a sentence\n", "document 1 (line 1) is a scalar (str), not a Kubernetes object"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "document 1 (line 1) has no kind"),
        ("kind: ConfigMap\n", "document 1 (line 1) has no apiVersion"),
        ("apiVersion: v1\nkind: 7\n", "document 1 (line 1) has a non-string kind: 7"),
        ("!!python/object:os.system x\n", "unsupported YAML tag !!python/object:os.system"),
        (HEAD + "data: {a: .inf}\n", "inf at line 5 cannot be sent as JSON"),
        (HEAD + "data: {a: !!int abc}\n", "cannot decode 'abc' as !!int at line 5"),
        ("apiVersion: v1\nkind: [\n", "invalid YAML at line 3, column 1"),
        (HEAD + "data:\n  ? [a, b]\n  : c\n", "unsupported non-scalar mapping key at line 6"),
    ],
)
def test_bad_documents_give_one_precise_line(text: str, expected: str) -> None:
    got = reason(text)
    assert got.startswith(expected), got
    assert "\n" not in got


def test_document_limit() -> None:
    text = "".join(f"---\n{HEAD.replace('name: a', f'name: c{i}')}" for i in range(60))
    assert reason(text, max_documents=50) == (
        "answer has more than 50 YAML documents (the limit is 50)"
    )
    assert len(parse(text, max_documents=60)) == 60


def test_line_numbers_count_from_the_answer() -> None:
    blocks = extract_yaml("Intro\n\n```yaml\n" + HEAD + "data:\n  a: 1\n  a: 2\n```").blocks
    with pytest.raises(AnswerParseError) as info:
        parse_documents(blocks)
    assert info.value.reason == "duplicate key 'a' at line 10 (first at line 9)"


def test_decode_refuses_invalid_utf8_and_oversize_answers() -> None:
    with pytest.raises(AnswerParseError, match=r"not valid UTF-8: byte 0xff at offset 5"):
        decode_answer(b"kind:\xff\xfe")
    with pytest.raises(AnswerParseError, match=r"answer is 2\.0 MiB, over the 1\.0 MiB limit"):
        decode_answer(b"a" * (2 * 1024 * 1024))
    with pytest.raises(AnswerParseError, match="unpaired surrogate"):
        decode_answer("kind: \udcff")
    assert decode_answer("\ufeffkind: x".encode()) == "kind: x"
    assert decode_answer("é" * 10, limits=ParseLimits(max_bytes=20)) == "é" * 10
    with pytest.raises(AnswerParseError):
        decode_answer("é" * 11, limits=ParseLimits(max_bytes=20))


def test_numbers_beyond_64_bits_are_refused_not_crashed_on() -> None:
    """Python refuses int strings over 4,300 digits (ValueError); JSON cannot print a
    hex literal of 5,000 digits either. Both are graded parse failures."""
    decimal = reason(HEAD + f"data:\n  x: {'1' * 5000}\n")
    assert "(5000 characters) at line 6 is out of range" in decimal
    hexa = reason(HEAD + f"data:\n  x: 0x{'f' * 5000}\n")
    assert "(5002 characters) at line 6 is out of range" in hexa
    assert "out of range" in reason(HEAD + f"data:\n  x: !!int {'9' * 5000}\n")
    assert "out of range" in reason(f"{'7' * 5000}: key\n" + HEAD)


def test_integers_keep_go_yaml_v2_ranges() -> None:
    spec = parse(
        HEAD + "spec:\n  a: 9223372036854775807\n  b: -9223372036854775808\n"
        "  c: 18446744073709551615\n  d: 18446744073709551616\n  e: 0xffffffffffffffff\n"
        "  f: 1234567890123456789012345\n"
    )[0]["spec"]
    assert spec["a"] == 2**63 - 1 and spec["b"] == -(2**63) and spec["c"] == 2**64 - 1
    # Beyond uint64, go-yaml falls back to ParseFloat, and encoding/json writes that
    # float64 without an exponent below 1e21.
    assert spec["d"] == 2**64
    assert spec["e"] == 2**64 - 1
    assert spec["f"] == 1.2345678901234568e24 and isinstance(spec["f"], float)
    assert "out of range" in reason(HEAD + "spec:\n  x: 0x1ffffffffffffffff\n")


def test_deep_nesting_is_refused_before_json_encoding_recurses() -> None:
    why = reason(HEAD + "data:\n  x: " + "[" * 990 + "]" * 990 + "\n")
    assert "nests deeper than 64 levels at line 6" in why
    assert parse(HEAD + "data:\n  x: " + "[" * 40 + "]" * 40 + "\n")  # deep but sane


def test_expanded_size_stops_a_store_too_large_alias_fan_out() -> None:
    """8 aliases to a 250 KB string would reach etcd's request limit (HTTP 500)."""
    text = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: big\n"
        f"x: &s '{'a' * 250_000}'\n"
        "rules:\n"
        + "".join("- {verbs: [get], resourceNames: [*s], apiGroups: ['']}\n" for _ in range(8))
    )
    assert "of scalar text" in reason(text)
