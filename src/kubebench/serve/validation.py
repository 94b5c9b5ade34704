"""`POST /v1/validate`: YAML in, one result per document out.

The grader's own stages, in its order: decode and extract (`grading.extract`), safe
parse (`grading.parse`), the scope rules (`grading.scope`: a task's, or an open scope of
every kind a task may allow), then server-side dry-run (`dryRun=All`,
`fieldValidation=Strict`) on the control plane KubeBench started, never applied.
Namespaced documents are dry-run in one scratch namespace (created at startup, empty:
dry-runs store nothing), so that a manifest's own namespace need not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubebench import defaults
from kubebench.cluster.client import NAMESPACES, KubeClient, ResourceInfo, unknown_kind_response
from kubebench.data.validation import ensure_namespace
from kubebench.errors import InfrastructureError
from kubebench.grading.extract import YamlBlock, extract_yaml
from kubebench.grading.parse import AnswerParseError, ParsedDocument, decode_answer, parse_documents
from kubebench.grading.scope import KNOWN_KINDS, check_scope, target_namespace
from kubebench.tasks.schema import Kind, Task, Tier

_LINE = re.compile(r"\bline (\d+)")
_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")
_YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Strict decoding names bad fields in its message, not in causes.
_STRICT_FIELD = re.compile(r'(?:unknown|duplicate) field "([^"]+)"')
_SYSTEM_NAMESPACE_PREFIX = "kube-"
_SEPARATOR = re.compile(r"^---(?:\s|$)")


@dataclass
class DocumentVerdict:
    """One document's result, as the contract's `documents[i]`."""

    index: int
    line: int
    kind: str | None = None
    name: str | None = None
    valid: bool = False
    stage: str = "parse"
    message: str | None = None
    line_of_error: int | None = None
    warnings: list[str] = field(default_factory=list)
    causes: list[dict[str, str]] = field(default_factory=list)


def open_scope(
    documents: list[ParsedDocument], resources: Mapping[tuple[str, str], ResourceInfo]
) -> Task:
    """The scope without a task: every kind a task may allow, in any namespace but the
    system ones (`kube-*`); the grader's privilege rules as for a task that asks for no
    sensitive grant."""
    namespaces = {target_namespace(d, resources) for d in documents}
    namespaces |= {d.name for d in documents if d.kind == "Namespace" and d.name}
    allowed = sorted(n for n in namespaces if n and not n.startswith(_SYSTEM_NAMESPACE_PREFIX))
    return Task(
        id="validate",
        category=Kind.ConfigMap,
        tier=Tier.basic,
        prompt="",
        allowed_kinds=list(KNOWN_KINDS),
        namespaces=allowed,
        expectations=[],
        reference="",
    )


def _error_line(message: str) -> int | None:
    match = _LINE.search(message)
    return int(match.group(1)) if match else None


def _steps(path: str) -> list[str | int]:
    """`rules[0].verbs` -> ["rules", 0, "verbs"]; `data[a.b]` -> ["data", "a.b"]."""
    steps: list[str | int] = []
    for key, index in _STEP.findall(path):
        if key:
            steps.append(key)
        else:
            steps.append(int(index) if index.isdigit() else index)
    return steps


def _node_line(text: str, steps: list[str | int]) -> int | None:
    """The 0-based line, in `text` (one YAML document), of the deepest node the path
    reaches; None when it reaches none."""
    try:
        node = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return None
    line = None
    for step in steps:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            match = next((kv for kv in node.value if getattr(kv[0], "value", None) == step), None)
            if match is None:
                break
            line, node = match[0].start_mark.line, match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            node = node.value[step]
            line = node.start_mark.line
        else:
            break
    return line


def field_line(lines: list[str], start: int, end: int, path: str) -> int | None:
    """Where in lines [start, end) (1-based) the field a server names (`rules[0].verbs`,
    `metadata.name`) is written: by the path through the document's YAML, else the
    first line that writes its last key; None when neither tells."""
    steps = _steps(path)
    if not steps:
        return None
    found = _node_line("\n".join(lines[start - 1 : end - 1]), steps)
    if found is not None:
        return start + found
    last = next((s for s in reversed(steps) if isinstance(s, str)), None)
    if last is None:
        return None
    wanted = re.compile(rf"^\s*(?:-\s+)?[\"']?{re.escape(last)}[\"']?\s*:")
    for number in range(start, min(end, len(lines) + 1)):
        if wanted.match(lines[number - 1]):
            return number
    return None


def failed_document(blocks: list[YamlBlock], line: int) -> tuple[int, int]:
    """The index and first line (1-based, in the answer) of the document that holds a
    parse error at `line`: documents of earlier blocks, then `---` separators that end a
    document with content, before it."""
    index = 0
    for block in blocks:
        block_lines = block.text.split("\n")
        if line >= block.first_line + len(block_lines):
            with contextlib.suppress(AnswerParseError):
                index += len(parse_documents([block]))
            continue
        start, has_content = block.first_line, False
        for offset, text in enumerate(block_lines[: max(0, line - block.first_line + 1)]):
            if _SEPARATOR.match(text):
                index += has_content
                start, has_content = block.first_line + offset, False
            elif text.strip() and not text.lstrip().startswith("#"):
                has_content = True
        return index, start
    return index, line


def content_line(lines: list[str], line: int) -> int:
    """The first line of a document's own text from where the parser starts it (its
    `---` marker, or comments and blank lines before it)."""
    number = line
    while number <= len(lines):
        text = lines[number - 1].strip()
        if text and text != "---" and not text.startswith("#"):
            return number
        number += 1
    return line


class Validator:
    """Validates YAML against one control plane KubeBench started."""

    def __init__(
        self, kube: KubeClient, namespace: str = defaults.SERVE_VALIDATE_NAMESPACE
    ) -> None:
        self.kube = kube
        self.namespace = namespace

    async def prepare(self) -> None:
        """Create the scratch namespace (labelled as the server's, so no grader's sweep
        of attempt leftovers takes it) unless it exists."""
        await ensure_namespace(self.kube, self.namespace)
        label = {"metadata": {"labels": {defaults.SERVE_VALIDATE_LABEL: "validation"}}}
        resp = await self.kube.request(
            "PATCH",
            NAMESPACES.path(name=self.namespace),
            params={"fieldManager": defaults.FIELD_MANAGER},
            body=label,
            content_type="application/merge-patch+json",
        )
        if not resp.ok:
            raise InfrastructureError(f"cannot label namespace {self.namespace}: {resp.message}")

    async def validate(self, text: str, task: Task | None = None) -> dict[str, Any]:
        """The contract's `{"valid": ..., "documents": [...]}` for `text`."""
        documents, failure = self._parse(text)
        if failure is not None:
            return {"valid": False, "documents": [failure.__dict__]}
        resources = await self.kube.discover()
        scope = task or open_scope(documents, resources)
        refused = {v.document.index: v.reason for v in check_scope(documents, scope, resources)}
        lines = text.replace("\r\n", "\n").split("\n")
        starts = [d.line for d in documents] + [len(lines) + 1]
        verdicts = []
        dry_runs = []
        for doc in documents:
            verdict = DocumentVerdict(
                index=doc.index,
                line=content_line(lines, doc.line),
                kind=doc.kind or None,
                name=doc.name or None,
            )
            verdicts.append(verdict)
            if doc.index in refused:
                verdict.stage, verdict.message = "scope", refused[doc.index]
                verdict.line_of_error = verdict.line
            else:
                end = next((s for s in starts if s > doc.line), len(lines) + 1)
                dry_runs.append(self._dry_run(doc, resources, verdict, lines, end))
        await asyncio.gather(*dry_runs)
        out = [v.__dict__ for v in verdicts]
        return {"valid": all(d["valid"] for d in out), "documents": out}

    def _parse(self, text: str) -> tuple[list[ParsedDocument], DocumentVerdict | None]:
        blocks: list[YamlBlock] = []
        try:
            decoded = decode_answer(text)
            blocks = extract_yaml(decoded).blocks
            if not blocks:
                raise AnswerParseError("no YAML found in the input")
            documents = parse_documents(blocks)
        except AnswerParseError as exc:
            line_of_error = _error_line(exc.reason)
            index, start = 0, 1
            if line_of_error is not None:
                index, start = failed_document(blocks, line_of_error)
                start = content_line(text.replace("\r\n", "\n").split("\n"), start)
            return [], DocumentVerdict(
                index, start, message=exc.reason, line_of_error=line_of_error
            )
        if not documents:
            return [], DocumentVerdict(0, 1, message="the YAML holds no documents")
        return documents, None

    async def _dry_run(
        self,
        doc: ParsedDocument,
        resources: Mapping[tuple[str, str], ResourceInfo],
        verdict: DocumentVerdict,
        lines: list[str],
        end: int,
    ) -> None:
        verdict.stage = "dry_run"
        body = doc.obj
        info = resources.get((doc.api_version, doc.kind))
        if info is None:
            # As the grader answers it, without a discovery refresh per request.
            resp = unknown_kind_response(doc.api_version, doc.kind)
        else:
            if info.namespaced:
                body = copy.copy(doc.obj)
                body["metadata"] = {**doc.metadata, "namespace": self.namespace}
            resp = await self.kube.create(body, dry_run=True)
        verdict.warnings = list(resp.warnings)
        if resp.ok or resp.reason == "AlreadyExists":
            # The server validates an object before it looks for a stored one of its name.
            verdict.valid, verdict.stage = True, "ok"
            if not resp.ok:
                verdict.message = "an object of this name exists on the server; valid as new"
            return
        verdict.message = resp.message.replace(
            f'"{self.namespace}"', f'"{target_namespace(doc, resources)}"'
        )
        verdict.causes = [
            {"field": c.field, "message": c.message, "reason": c.reason} for c in resp.causes
        ]
        fields = [c.field for c in resp.causes if c.field] or _STRICT_FIELD.findall(resp.message)
        verdict.line_of_error = (
            field_line(lines, doc.line, end, fields[0]) if fields else None
        ) or verdict.line
