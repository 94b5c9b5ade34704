"""Safe parsing of an answer's YAML into plain JSON-ready dicts, the way kubectl reads it.

kubectl turns YAML into JSON with sigs.k8s.io/yaml, which decodes with go-yaml v2 (YAML
1.1 scalars): `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0755` is octal, `1:20` is a
string (no base-60), `1e3` is a float, an unquoted `2024-01-02` is a timestamp that
becomes the JSON string "2024-01-02T00:00:00Z", and a whole float such as `3.0` is
written as `3`. This module resolves plain scalars by those rules, so the API server
sees what `kubectl apply` would have sent.

Safety: the document is built from libyaml's event stream (no recursive composer),
aliases share objects instead of copying them, and every node and scalar byte is counted
with aliases expanded, so a billion-laughs answer stops after a bounded amount of work.
Duplicate keys, unknown tags, non-mapping documents, too many documents, nesting deeper
than any Kubernetes object and numbers beyond 64 bits are errors.
Every failure raises `AnswerParseError` with one line a person can act on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml
from yaml import events as ev

from kubebench import defaults
from kubebench.grading.extract import YamlBlock

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_BOOLS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_INT = re.compile(r"[-+]?(?:0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
# go-yaml v2's timestamp layouts: "2006-1-2T15:4:5.999999999Z07:00" (T or t),
# "2006-1-2 15:4:5.999999999" and "2006-1-2".
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?:(?P<t>[Tt])|(?P<sp> ))(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})"
    r"(?:\.(?P<frac>[0-9]+))?(?P<tz>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


class AnswerParseError(ValueError):
    """The answer is not acceptable YAML; `reason` is one line for the verdict."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on the work one answer may cost (see `kubebench.defaults`)."""

    max_bytes: int = defaults.MAX_ANSWER_BYTES
    max_documents: int = defaults.MAX_DOCUMENTS
    max_nodes: int = defaults.MAX_YAML_NODES
    max_expanded_bytes: int = defaults.MAX_YAML_EXPANDED_BYTES
    max_depth: int = defaults.MAX_YAML_DEPTH


@dataclass(frozen=True)
class ParsedDocument:
    """One Kubernetes object of the answer, as the JSON body the API server receives."""

    index: int
    obj: dict[str, Any]
    line: int  # where the document starts in the answer (1-based)

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        name = self.metadata.get("name")
        return name if isinstance(name, str) else ""

    @property
    def namespace(self) -> str | None:
        """metadata.namespace as written (None when absent)."""
        ns = self.metadata.get("namespace")
        return ns if isinstance(ns, str) and ns else None

    def describe(self) -> str:
        """`document 2 (Role team-a/reader, line 14)` for reasons in a verdict."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name or "<no name>"
        return f"document {self.index + 1} ({self.kind or '<no kind>'} {where}, line {self.line})"


# -- bytes and size ---------------------------------------------------------------------


def decode_answer(answer: str | bytes, *, limits: ParseLimits | None = None) -> str:
    """The answer as text, refusing oversize answers and invalid UTF-8."""
    limits = limits or ParseLimits()
    size = len(answer)
    if isinstance(answer, str) and size <= limits.max_bytes:
        size = len(answer.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise AnswerParseError(
            f"answer is {_human_bytes(size)}, over the {_human_bytes(limits.max_bytes)} limit"
        )
    if isinstance(answer, bytes):
        try:
            text = answer.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = answer[exc.start : exc.start + 1].hex()
            raise AnswerParseError(
                f"answer is not valid UTF-8: byte 0x{bad} at offset {exc.start}"
            ) from None
    else:
        text = answer
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise AnswerParseError(
                f"answer is not valid UTF-8: unpaired surrogate at offset {exc.start}"
            ) from None
    return text.removeprefix("\ufeff")


def _human_bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


# -- scalars ----------------------------------------------------------------------------


# go-yaml v2 keeps an integer only when it fits an int64 or a uint64.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_OUT_OF_RANGE = object()


def _parse_int(text: str) -> int | object | None:
    """The integer a plain scalar means, None when it is not one, or `_OUT_OF_RANGE`
    (never converted: Python refuses int strings over 4,300 digits, and no 64-bit
    integer has more than 64)."""
    plain = text.replace("_", "")
    if not _INT.fullmatch(plain):
        return None
    sign = -1 if plain[0] == "-" else 1
    digits = plain.lstrip("+-")
    base = 10
    if digits[:2].lower() in ("0b", "0o", "0x"):
        base, digits = {"b": 2, "o": 8, "x": 16}[digits[1].lower()], digits[2:]
    elif len(digits) > 1 and digits[0] == "0":
        base = 8
    if len(digits.lstrip("0")) > 64:
        return _OUT_OF_RANGE
    value = sign * int(digits, base)
    return value if _INT_MIN <= value <= _INT_MAX else _OUT_OF_RANGE


def _out_of_range(text: str, line: int) -> AnswerParseError:
    shown = text if len(text) <= 24 else f"{text[:12]}...{text[-6:]}"
    where = f" at line {line}" if line else ""
    return AnswerParseError(
        f"number {shown} ({len(text)} characters){where} is out of range: Kubernetes "
        "objects hold 64-bit integers"
    )


def _go_timestamp(text: str) -> str | None:
    """go-yaml v2's timestamp, as encoding/json writes it (RFC 3339, nanoseconds)."""
    match = _TIMESTAMP.fullmatch(text)
    if not match or (match.group("sp") and match.group("tz")):
        return None
    g = match.groupdict()
    try:
        stamp = datetime(
            int(g["y"]), int(g["mo"]), int(g["d"]), int(g["h"] or 0), int(g["mi"] or 0),
            int(g["s"] or 0),
        )  # fmt: skip
    except ValueError:
        return None
    if g["t"] and not g["tz"]:
        return None  # the T layouts require a zone
    frac = (g["frac"] or "")[:9].rstrip("0")
    out = stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "")
    tz = g["tz"] or "Z"
    if tz != "Z":
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        tz = "Z" if not offset else tz
        datetime(2000, 1, 1, tzinfo=timezone(offset))  # validates the offset range
    return out + tz


def _json_number(value: float) -> float | int:
    # encoding/json writes a whole float64 without a fraction (3.0 -> 3); so do we.
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _resolve_plain(text: str, line: int = 0) -> Any:
    """A plain (unquoted, untagged) scalar, resolved as go-yaml v2 does, except that a
    number beyond 64 bits and float range is refused (go-yaml would keep it a string)."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        return _json_number(float(text)) if _DOT_FLOAT.fullmatch(text) else text
    if first in "0123456789+-":
        if first not in "+-" and (stamp := _go_timestamp(text)) is not None:
            return stamp
        number = _parse_int(text)
        plain = text.replace("_", "")
        if number is _OUT_OF_RANGE:
            # As go-yaml: a decimal too long for an integer may still be a float.
            as_float = float(plain) if _FLOAT.fullmatch(plain) else math.inf
            if not math.isfinite(as_float):
                raise _out_of_range(text, line)
            return _json_number(as_float)
        if number is not None:
            return number
        if _FLOAT.fullmatch(plain):
            return _json_number(float(plain))
    return text


def _resolve_tagged(text: str, tag: str, line: int) -> Any:
    short = tag.replace(_TAG, "!!")
    if tag in ("!", f"{_TAG}str"):
        return text
    value = _resolve_plain(text, line)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    accepts = {
        f"{_TAG}null": value is None,
        f"{_TAG}bool": isinstance(value, bool),
        f"{_TAG}int": number and isinstance(value, int),
        f"{_TAG}float": number,
    }
    if tag not in accepts:
        raise AnswerParseError(f"unsupported YAML tag {short} at line {line}")
    if not accepts[tag]:
        raise AnswerParseError(f"cannot decode {text!r} as {short} at line {line}")
    return value


def _json_key(key: Any, line: int) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and math.isfinite(key):
        return str(_json_number(key))
    raise AnswerParseError(f"unsupported mapping key {key!r} at line {line}")


# -- the event-stream builder -----------------------------------------------------------


@dataclass
class _Frame:
    value: dict[str, Any] | list[Any]
    anchor: str | None
    line: int
    nodes: int = 1
    size: int = 0
    key: str | None = None  # a mapping's key awaiting its value
    key_is_merge: bool = False
    key_lines: dict[str, int] = field(default_factory=dict)
    merges: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Budget:
    limits: ParseLimits
    nodes: int = 0
    size: int = 0

    def spend(self, nodes: int, size: int, line: int) -> None:
        self.nodes += nodes
        self.size += size
        if self.nodes > self.limits.max_nodes:
            raise AnswerParseError(
                f"YAML expands to more than {self.limits.max_nodes} nodes (aliases counted "
                f"expanded) by line {line}: an alias/anchor bomb or an oversized answer"
            )
        if self.size > self.limits.max_expanded_bytes:
            raise AnswerParseError(
                f"YAML expands to more than {_human_bytes(self.limits.max_expanded_bytes)} "
                f"of scalar text (aliases counted expanded) by line {line}"
            )


class _DocumentBuilder:
    """Builds one document's value from events; aliases share the anchored object."""

    def __init__(self, budget: _Budget, line_offset: int) -> None:
        self.budget = budget
        self.offset = line_offset
        self.anchors: dict[str, tuple[Any, int, int]] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.root: Any = None

    def line(self, event: ev.Event) -> int:
        mark = event.start_mark
        return self.offset + (mark.line if mark is not None else 0)

    def feed(self, event: ev.Event) -> None:
        line = self.line(event)
        if isinstance(event, ev.ScalarEvent):
            if event.tag is None and event.implicit[0]:
                value = _resolve_plain(event.value, line)
            elif event.tag is None:
                value = event.value
            else:
                value = _resolve_tagged(event.value, event.tag, line)
            self.budget.spend(1, len(event.value), line)
            merge = event.tag is None and event.implicit[0] and event.value == "<<"
            self._anchor(event.anchor, value, 1, len(event.value))
            self._add(value, 1, len(event.value), line, merge_key=merge)
        elif isinstance(event, ev.AliasEvent):
            if event.anchor in self.open_anchors:
                raise AnswerParseError(f"recursive alias *{event.anchor} at line {line}")
            if event.anchor not in self.anchors:
                raise AnswerParseError(f"unknown alias *{event.anchor} at line {line}")
            value, nodes, size = self.anchors[event.anchor]
            self.budget.spend(nodes, size, line)
            self._add(value, nodes, size, line)
        elif isinstance(event, ev.SequenceStartEvent | ev.MappingStartEvent):
            is_map = isinstance(event, ev.MappingStartEvent)
            allowed = (None, "!", _TAG + ("map" if is_map else "seq"))
            if event.tag not in allowed:
                short = str(event.tag).replace(_TAG, "!!")
                raise AnswerParseError(f"unsupported YAML tag {short} at line {line}")
            self.budget.spend(1, 0, line)
            if len(self.stack) >= self.budget.limits.max_depth:
                raise AnswerParseError(
                    f"YAML nests deeper than {self.budget.limits.max_depth} levels at line "
                    f"{line}: no Kubernetes object is that deep"
                )
            if event.anchor:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame({} if is_map else [], event.anchor, line))
        elif isinstance(event, ev.SequenceEndEvent | ev.MappingEndEvent):
            frame = self.stack.pop()
            if isinstance(frame.value, dict):
                for merged in frame.merges:
                    for key, item in merged.items():
                        frame.value.setdefault(key, item)
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
            self._anchor(frame.anchor, frame.value, frame.nodes, frame.size)
            self._add(frame.value, frame.nodes, frame.size, frame.line)

    def _anchor(self, anchor: str | None, value: Any, nodes: int, size: int) -> None:
        if anchor:
            self.anchors[anchor] = (value, nodes, size)

    def _add(self, value: Any, nodes: int, size: int, line: int, merge_key: bool = False) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise AnswerParseError(f"{value} at line {line} cannot be sent as JSON")
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.nodes += nodes
        top.size += size
        if isinstance(top.value, list):
            top.value.append(value)
            return
        if top.key is None and not top.key_is_merge:
            if isinstance(value, dict | list):
                raise AnswerParseError(f"unsupported non-scalar mapping key at line {line}")
            if merge_key:
                top.key_is_merge = True
                return
            key = _json_key(value, line)
            if key in top.key_lines:
                raise AnswerParseError(
                    f"duplicate key {key!r} at line {line} (first at line {top.key_lines[key]})"
                )
            top.key_lines[key] = line
            top.key = key
            return
        if top.key_is_merge:
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in merged):
                raise AnswerParseError(f"merge key << at line {line} needs a mapping")
            top.merges.extend(merged)
            top.key_is_merge = False
            return
        assert top.key is not None
        top.value[top.key] = value
        top.key = None


def _yaml_error(exc: yaml.YAMLError, offset: int) -> AnswerParseError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = " ".join(str(exc.problem or "invalid YAML").split())
        context = f" ({' '.join(str(exc.context).split())})" if exc.context else ""
        return AnswerParseError(
            f"invalid YAML at line {offset + mark.line}, column {mark.column + 1}: {what}{context}"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return AnswerParseError(f"invalid YAML: {first}")


def _documents_of_block(block: YamlBlock, budget: _Budget) -> Iterable[tuple[Any, int]]:
    """(value, line) for every document of one block's YAML stream."""
    loader = _Loader(block.text)
    try:
        builder: _DocumentBuilder | None = None
        while True:
            try:
                event = loader.get_event()
            except yaml.YAMLError as exc:
                raise _yaml_error(exc, block.first_line) from None
            if event is None or isinstance(event, ev.StreamEndEvent):
                return
            if isinstance(event, ev.DocumentStartEvent):
                builder = _DocumentBuilder(budget, block.first_line)
                start = builder.line(event)
            elif isinstance(event, ev.DocumentEndEvent):
                assert builder is not None
                yield builder.root, start
                builder = None
            elif builder is not None:
                builder.feed(event)
    finally:
        loader.dispose()


def _check_object(value: Any, line: int, number: int) -> dict[str, Any]:
    where = f"document {number} (line {line})"
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"a scalar ({type(value).__name__})"
        raise AnswerParseError(f"{where} is {kind}, not a Kubernetes object (a mapping)")
    for key in ("apiVersion", "kind"):
        if not value.get(key):
            raise AnswerParseError(f"{where} has no {key}")
        if not isinstance(value[key], str):
            raise AnswerParseError(f"{where} has a non-string {key}: {value[key]!r}")
    return value


def parse_documents(
    blocks: Iterable[YamlBlock], *, limits: ParseLimits | None = None
) -> list[ParsedDocument]:
    """Every Kubernetes object in the blocks, `kind: List` items expanded, in order.

    Empty documents are skipped (as kubectl does). Raises AnswerParseError.
    """
    limits = limits or ParseLimits()
    budget = _Budget(limits)
    out: list[ParsedDocument] = []

    def add(obj: dict[str, Any], line: int) -> None:
        if len(out) >= limits.max_documents:
            raise AnswerParseError(
                f"answer has more than {limits.max_documents} YAML documents "
                f"(the limit is {limits.max_documents})"
            )
        out.append(ParsedDocument(len(out), obj, line))

    for block in blocks:
        for value, line in _documents_of_block(block, budget):
            if value is None:
                continue
            obj = _check_object(value, line, len(out) + 1)
            if obj["kind"].endswith("List") and isinstance(obj.get("items"), list):
                for item in obj["items"]:
                    add(_check_object(item, line, len(out) + 1), line)
            else:
                add(obj, line)
    return out
