"""The plain data that flows between curation stages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubebench.cluster.client import ResourceInfo


@dataclass(frozen=True)
class SourceFile:
    """One input file: a manifest (YAML) or a Markdown doc, with its provenance."""

    source: str  # the --source it came from, e.g. "corpus:/path/manifests.jsonl"
    repo: str
    path: str
    license: tuple[str, ...]
    content: str
    commit: str = ""

    @property
    def is_markdown(self) -> bool:
        return self.path.lower().endswith((".md", ".markdown"))

    @property
    def where(self) -> str:
        return f"{self.repo}:{self.path}"


@dataclass
class CandidateObject:
    """One Kubernetes object on its way through the stages."""

    file: SourceFile
    index: int  # position among the file's (or doc section's) objects
    obj: dict[str, Any]
    unit: str  # the file, or the doc section, the object belongs to
    canonical: str = ""  # canonical JSON (sorted keys, server-set fields stripped)
    info: ResourceInfo | None = None  # the REST mapping, once discovery has served it

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        return name if isinstance(name, str) else ""

    @property
    def namespace(self) -> str:
        meta = self.obj.get("metadata")
        ns = meta.get("namespace") if isinstance(meta, dict) else None
        return ns if isinstance(ns, str) else ""

    @property
    def lacks_namespace(self) -> bool:
        """A namespaced kind (as discovery served it) with no metadata.namespace."""
        return self.info is not None and self.info.namespaced and not self.namespace

    @property
    def bare(self) -> bool:
        meta = self.obj.get("metadata")
        return set(self.obj) <= {"apiVersion", "kind", "metadata"} and (
            not isinstance(meta, dict) or set(meta) <= {"name"}
        )

    def describe(self) -> str:
        return f"{self.file.where} #{self.index + 1} ({self.kind} {self.name or '<no name>'})"


@dataclass
class Example:
    """One chat example, before it is assigned to a split."""

    messages: list[dict[str, str]]
    repo: str
    path: str
    license: str
    origin: str  # "manifest", "doc-yaml" or "doc-concept"
    style: str
    kinds: list[str]
    objects: int
    without_namespace: int = 0  # objects of a namespaced kind with no metadata.namespace
    bare: int = 0  # objects that hold nothing but apiVersion, kind and metadata.name

    def record(self) -> dict[str, Any]:
        """The JSONL line: every line has the same keys and types (datasets-loadable)."""
        return {
            "messages": self.messages,
            "source": {
                "repo": self.repo,
                "path": self.path,
                "license": self.license,
                "origin": self.origin,
                "style": self.style,
                "kinds": self.kinds,
                "objects": self.objects,
                "without_namespace": self.without_namespace,
                "bare": self.bare,
            },
        }
