"""Objects of a file: split into documents, parse with the grader's own safe parser and
limits, keep Kubernetes objects, refuse placeholders, and write canonical JSON and YAML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from kubebench.grading.extract import YamlBlock
from kubebench.grading.parse import AnswerParseError, ParseLimits, parse_documents

_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$")
# The parser's messages that mean "YAML, but not a Kubernetes object".
_NOT_OBJECT = ("not a Kubernetes object", "has no apiVersion", "has no kind", "non-string")
# Fields the API server sets; two objects that differ only here are the same object.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)
_SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)
_ENVSUBST = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-=?+][^}]*)?\}")
_KUSTOMIZE_VAR = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_.]*\)")
_ANGLE = re.compile(r"^<[^<>\n]{1,60}>$")
_FILL_ME = re.compile(r"^(?:CHANGE_?ME|REPLACE_?ME|TODO|FIXME|YOUR_[A-Z_]+)$", re.I)
# Content a ConfigMap or Secret carries, and container commands: `${VAR}` and `$(VAR)`
# are legitimate there (shell scripts, Kubernetes' own variable expansion).
_CONTENT_KEYS = frozenset(("data", "stringData", "binaryData"))
_SHELL_KEYS = frozenset(("command", "args", "env", "script", "rego", "code", "source"))


@dataclass(frozen=True)
class DocumentText:
    text: str
    first_line: int


@dataclass(frozen=True)
class ParseOutcome:
    """One document's objects, or why it yielded none (`stage` says which stage drops)."""

    objects: list[dict[str, Any]]
    stage: str = ""
    reason: str = ""


def split_documents(content: str) -> list[DocumentText]:
    """The `---`-separated documents of a YAML stream (empty ones left out)."""
    docs: list[DocumentText] = []
    lines = content.replace("\r\n", "\n").split("\n")
    start = 0
    for i, line in enumerate([*lines, "---"]):
        if _SEPARATOR.match(line):
            chunk = lines[start:i]
            if any(s.strip() and not s.lstrip().startswith("#") for s in chunk):
                docs.append(DocumentText("\n".join(chunk) + "\n", start + 1))
            start = i + 1
    return docs


def parse_document(doc: DocumentText, limits: ParseLimits | None = None) -> ParseOutcome:
    """A document through the grader's parser: objects (List items expanded) or a reason."""
    try:
        parsed = parse_documents([YamlBlock(doc.text, doc.first_line, fenced=False)], limits=limits)
    except AnswerParseError as exc:
        stage = "kubernetes_only" if any(m in exc.reason for m in _NOT_OBJECT) else "split_parse"
        return ParseOutcome([], stage, exc.reason)
    return ParseOutcome([d.obj for d in parsed])


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in _SHELL_KEYS or (not path and key in _CONTENT_KEYS):
                continue
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)


def placeholder_reason(obj: dict[str, Any]) -> str | None:
    """envsubst `${VAR}`, kustomize `$(VAR)`, `<your-value>` or CHANGEME left in."""
    for path, text in _strings(obj, ()):
        where = ".".join(path) or "<root>"
        if _ENVSUBST.search(text):
            return f"envsubst placeholder in {where}"
        if _KUSTOMIZE_VAR.search(text):
            return f"kustomize variable in {where}"
        stripped = text.strip()
        if _ANGLE.match(stripped) or _FILL_ME.match(stripped):
            return f"fill-in placeholder in {where}"
    return None


def strip_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without status and the metadata the server sets."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in _SERVER_METADATA}
        notes = meta.get("annotations")
        if isinstance(notes, dict):
            notes = {k: v for k, v in notes.items() if k not in _SERVER_ANNOTATIONS}
            if notes:
                meta["annotations"] = notes
            else:
                meta.pop("annotations")
        out["metadata"] = meta
    return out


def canonical_json(obj: dict[str, Any]) -> str:
    """Sorted keys, compact, server-set fields stripped: equal objects, equal strings."""
    return json.dumps(
        strip_server_fields(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value.strip("\n") and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if value in ("y", "Y", "n", "N"):  # booleans to kubectl's YAML 1.1 reader
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


def render_yaml(obj: dict[str, Any]) -> str | None:
    """The object as block YAML in its own key order, or None when the text would not
    read back (through the grader's parser) as the same object."""
    text = yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
        width=100,
    )  # fmt: skip
    try:
        again = parse_documents([YamlBlock(text, 1, fenced=True)])
    except AnswerParseError:
        return None
    return text if len(again) == 1 and again[0].obj == obj else None
