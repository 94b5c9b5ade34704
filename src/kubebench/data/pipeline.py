"""`kubebench data build`: every stage, streamed in chunks of files with bounded memory.

Files are read a chunk at a time; each chunk's objects go through the synchronous
stages in input order (so that dedup keeps the first copy, deterministically), then the
chunk's survivors are dry-run on the API server concurrently, then grouped into
examples and appended to a staging file. Only the dedup indexes and the counters grow
with the input: 16 bytes per distinct file and object, and about 9 KiB per object kept
by near dedup (its signature and datasketch's 25 LSH bands).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.data import docs as docmod
from kubebench.data.counters import StageCounters, bucket
from kubebench.data.credentials import CredentialScanner
from kubebench.data.decontamination import AuditLog, BenchmarkIndex, Contamination
from kubebench.data.dedup import ExactDeduplicator, NearDeduplicator
from kubebench.data.file_filters import license_reason, size_reason, template_reason
from kubebench.data.grouping import group_related
from kubebench.data.objects import (
    DocumentText,
    canonical_json,
    parse_document,
    placeholder_reason,
    render_yaml,
    split_documents,
)
from kubebench.data.progress import NullProgress, Progress
from kubebench.data.readers import ReadSkip, SourceSpec, read_source
from kubebench.data.records import CandidateObject, Example, SourceFile
from kubebench.data.synthesis import choose_style, write_answer, write_request
from kubebench.data.validation import (
    ServedApis,
    dry_run_batch,
    ensure_namespace,
)

STAGING_FILE = "examples.staging.jsonl"
# The API server's warning for a deprecated version: "batch/v1beta1 CronJob is deprecated".
_DEPRECATED_VERSION = re.compile(r"^\S+ \S+ is deprecated")
AUDIT_FILE = "decontamination_audit.jsonl"


@dataclass
class BuildConfig:
    """Everything one build depends on; recorded in stats.json."""

    sources: list[SourceSpec]
    out: Path | None  # None: count and time only (the benchmark)
    default_license: str | None = None
    license_allowlist: tuple[str, ...] = defaults.DATA_LICENSE_ALLOWLIST
    ngram: int = defaults.DATA_DECONTAM_NGRAM
    jaccard: float = defaults.DATA_JACCARD_THRESHOLD
    num_perm: int = defaults.DATA_MINHASH_PERMUTATIONS
    shingle_size: int = defaults.DATA_SHINGLE_SIZE
    validation_fraction: float = defaults.DATA_VALIDATION_FRACTION
    keep_unknown_kinds: bool = False
    synthesize: bool = True
    system_prompt: str | None = None
    chunk_files: int = 256
    concurrency: int = defaults.DATA_VALIDATION_CONCURRENCY
    namespace: str = defaults.DATA_VALIDATION_NAMESPACE

    def describe(self) -> dict[str, Any]:
        return {
            "sources": [str(s) for s in self.sources],
            "default_license": self.default_license,
            "license_allowlist": list(self.license_allowlist),
            "decontamination_ngram": self.ngram,
            "near_dedup": {
                "jaccard": self.jaccard,
                "permutations": self.num_perm,
                "shingle_tokens": self.shingle_size,
            },
            "validation_fraction": self.validation_fraction,
            "keep_unknown_kinds": self.keep_unknown_kinds,
            "synthesize": self.synthesize,
            "system_prompt": bool(self.system_prompt),
            "file_filters": {
                "min_bytes": defaults.DATA_MIN_FILE_BYTES,
                "max_bytes": defaults.DATA_MAX_FILE_BYTES,
                "max_line_length": defaults.DATA_MAX_LINE_LENGTH,
                "max_mean_line_length": defaults.DATA_MAX_MEAN_LINE_LENGTH,
                "min_alnum_fraction": defaults.DATA_MIN_ALNUM_FRACTION,
            },
        }


@dataclass
class _Unit:
    """The objects of one manifest file, or of one doc section, on their way."""

    file: SourceFile
    origin: str  # "manifest" or "doc-yaml"
    objects: list[CandidateObject] = field(default_factory=list)
    yamls: dict[int, str] = field(default_factory=dict)
    expected: int = 0
    failed: bool = False
    parts: docmod.SectionParts | None = None
    title: str = ""


@dataclass
class BuildTotals:
    """What the card reports beside the stage counts."""

    kinds_parsed: Counter[str] = field(default_factory=Counter)
    kinds_kept: Counter[str] = field(default_factory=Counter)
    kinds_examples: Counter[str] = field(default_factory=Counter)
    licenses: Counter[str] = field(default_factory=Counter)
    repos_files: Counter[str] = field(default_factory=Counter)
    repos_objects: Counter[str] = field(default_factory=Counter)
    repos_examples: Counter[str] = field(default_factory=Counter)
    origins: Counter[str] = field(default_factory=Counter)
    styles: Counter[str] = field(default_factory=Counter)
    dry_run_requests: int = 0
    dry_run_seconds: float = 0.0
    examples: int = 0


class Curator:
    """Runs the stages; `await curator.run()` returns the counters and totals."""

    def __init__(
        self,
        config: BuildConfig,
        kube: KubeClient,
        index: BenchmarkIndex,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.kube = kube
        self.index = index
        self.progress = progress or NullProgress()
        self.counters = StageCounters()
        self.totals = BuildTotals()
        self.exact = ExactDeduplicator()
        self.exact_files = ExactDeduplicator()
        self.near = NearDeduplicator(config.jaccard, config.num_perm, config.shingle_size)
        self.apis: ServedApis | None = None
        self.audit: AuditLog | None = None
        self.staging: IO[str] | None = None
        self.started = 0.0

    # -- driving ----------------------------------------------------------------------

    async def run(self) -> StageCounters:
        self.started = time.perf_counter()
        self.apis = ServedApis(await self.kube.discover(refresh=True))
        await ensure_namespace(self.kube, self.config.namespace)
        out = self.config.out
        try:
            with CredentialScanner() as scanner:
                self.scanner = scanner
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    self.audit = AuditLog(out / AUDIT_FILE).__enter__()
                    self.staging = (out / STAGING_FILE).open("w", encoding="utf-8")
                for chunk in self._chunks():
                    await self._chunk(chunk)
                    self.progress.update(self.counters)
        finally:
            if self.audit is not None:
                self.audit.__exit__()
            if self.staging is not None:
                self.staging.close()
        self.progress.update(self.counters, final=True)
        return self.counters

    def _chunks(self) -> Iterator[list[SourceFile]]:
        chunk: list[SourceFile] = []
        read = self.counters["read"]
        for spec in self.config.sources:
            records = read_source(spec, default_license=self.config.default_license)
            while True:
                with self.counters.timed("read"):
                    item = next(records, None)
                if item is None:
                    break
                read.seen += 1
                if isinstance(item, ReadSkip):
                    read.dropped[bucket(item.reason)] += 1
                    continue
                read.kept += 1
                chunk.append(item)
                if len(chunk) >= self.config.chunk_files:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    async def _chunk(self, files: list[SourceFile]) -> None:
        units: list[_Unit] = []
        concepts: list[tuple[SourceFile, docmod.SectionParts, str, str]] = []
        for file in files:
            if not self._file_passes(file):
                continue
            self.totals.repos_files[file.repo] += 1
            if file.is_markdown:
                units += self._doc_units(file, concepts)
            else:
                unit = _Unit(file, "manifest")
                self._objects_of(unit, split_documents(file.content))
                units.append(unit)
        await self._dry_run(units)
        if self.config.synthesize:
            with self.counters.timed("synthesis"):
                examples = [ex for unit in units for ex in self._unit_examples(unit)]
                examples += [self._concept_example(*c) for c in concepts]
            self._emit(examples)

    # -- file stages ------------------------------------------------------------------

    def _drop(self, stage: str, reason: str) -> bool:
        self.counters[stage].dropped[bucket(reason)] += 1
        return False

    def _file_passes(self, file: SourceFile) -> bool:
        c = self.counters
        with c.timed("license") as stage:
            stage.seen += 1
            if (reason := license_reason(file, self.config.license_allowlist)) is not None:
                return self._drop("license", reason)
            stage.kept += 1
        if file.is_markdown:
            return True
        with c.timed("file_filters") as stage:
            stage.seen += 1
            if (reason := size_reason(file.content)) is not None:
                return self._drop("file_filters", reason)
            stage.kept += 1
        with c.timed("templates") as stage:
            stage.seen += 1
            if (reason := template_reason(file.content)) is not None:
                return self._drop("templates", reason)
            stage.kept += 1
        with c.timed("exact_file_dedup") as stage:
            stage.seen += 1
            if self.exact_files.first_seen(file.content.strip(), file.where) is not None:
                return self._drop("exact_file_dedup", "same content as an earlier file")
            stage.kept += 1
        return True

    # -- object stages ----------------------------------------------------------------

    def _objects_of(self, unit: _Unit, documents: list[DocumentText]) -> None:
        c = self.counters
        file = unit.file
        if unit.origin == "manifest" and self._has_canary(file):
            unit.failed = True
            return
        index = 0
        for doc in documents:
            with c.timed("split_parse") as stage:
                stage.seen += 1
                outcome = parse_document(doc)
                if outcome.stage == "split_parse":
                    unit.failed = True
                    self._drop("split_parse", outcome.reason)
                    continue
                stage.kept += 1
            k8s = c["kubernetes_only"]
            k8s.seen += 1
            if outcome.stage == "kubernetes_only":
                unit.failed = True
                self._drop("kubernetes_only", outcome.reason)
                continue
            k8s.kept += 1
            for obj in outcome.objects:
                unit.expected += 1
                candidate = CandidateObject(file, index, obj, f"{file.where}#{doc.first_line}")
                index += 1
                self.totals.kinds_parsed[candidate.kind] += 1
                if self._object_passes(candidate, unit):
                    unit.objects.append(candidate)
                else:
                    unit.failed = True

    def _has_canary(self, file: SourceFile) -> bool:
        """The canary anywhere in the file (a comment, which rendered YAML no longer has,
        or a doc's code block) removes the whole file."""
        for canary in self.index.canaries:
            if canary in file.content:
                self.counters["decontamination"].seen += 1
                self._drop("decontamination", "canary GUID in the file")
                if self.audit is not None:
                    hit = Contamination("canary", "*", "canary", canary)
                    self.audit.record("file", file.where, hit, source=file.source)
                return True
        return False

    def _object_passes(self, cand: CandidateObject, unit: _Unit) -> bool:
        """The object stages, cheapest first: dedup comes before the credential scan and
        the rendering, so that copies cost no more than a hash."""
        c = self.counters
        with c.timed("placeholders") as stage:
            stage.seen += 1
            if (reason := placeholder_reason(cand.obj)) is not None:
                return self._drop("placeholders", reason)
            stage.kept += 1
        assert self.apis is not None
        with c.timed("api_versions") as stage:
            stage.seen += 1
            verdict = self.apis.classify(cand.api_version, cand.kind)
            if verdict.status == "removed":
                return self._drop("api_versions", f"removed: {verdict.reason}")
            if verdict.status == "unknown":
                stage.apart[bucket(verdict.reason)] += 1
                if not self.config.keep_unknown_kinds:
                    return False
            stage.kept += 1
            cand.info = verdict.info
        cand.canonical = canonical_json(cand.obj)
        if unit.origin == "manifest" and not self._unique(cand):
            return False
        with c.timed("credentials") as stage:
            stage.seen += 1
            if (reason := self.scanner.object_reason(cand.obj)) is not None:
                return self._drop("credentials", reason)
            stage.kept += 1
        with c.timed("decontamination") as stage:
            stage.seen += 1
            text = render_yaml(cand.obj)
            if text is None:
                return self._drop("decontamination", "YAML does not read back as the object")
            hit = self.index.check_object(cand.canonical) or self.index.check_text(text)
            if hit is not None:
                if self.audit is not None:
                    self.audit.record(
                        "object", cand.describe(), hit, source=cand.file.source,
                        kind=cand.kind, name=cand.name,
                    )  # fmt: skip
                return self._drop("decontamination", f"{hit.test} match with the benchmark")
            stage.kept += 1
            unit.yamls[cand.index] = text
        return True

    def _unique(self, cand: CandidateObject) -> bool:
        """Exact, then near dedup (manifests only: a doc's example keeps its YAML)."""
        c = self.counters
        key = f"{cand.file.where}#{cand.index}"
        with c.timed("exact_dedup") as stage:
            stage.seen += 1
            if self.exact.first_seen(cand.canonical, key) is not None:
                return self._drop("exact_dedup", "same canonical object as an earlier one")
            stage.kept += 1
        with c.timed("near_dedup") as stage:
            stage.seen += 1
            if self.near.check_and_add(cand.canonical, key) is not None:
                reason = f"Jaccard >= {self.config.jaccard} with an earlier object"
                return self._drop("near_dedup", reason)
            stage.kept += 1
        return True

    async def _dry_run(self, units: list[_Unit]) -> None:
        stage = self.counters["dry_run"]
        todo = [(unit, cand) for unit in units for cand in unit.objects if cand.info is not None]
        start = time.perf_counter()
        results = await dry_run_batch(
            self.kube,
            [(cand.obj, cand.info) for _, cand in todo if cand.info is not None],
            self.config.namespace,
            self.config.concurrency,
        )
        elapsed = time.perf_counter() - start
        stage.seconds += elapsed
        self.totals.dry_run_seconds += elapsed
        self.totals.dry_run_requests += len(todo)
        failed: set[int] = set()
        for (unit, cand), result in zip(todo, results, strict=True):
            stage.seen += 1
            if not result.ok:
                self._drop("dry_run", result.reason)
            elif result.deprecated:
                self.counters["api_versions"].kept -= 1
                what = "apiVersion" if _DEPRECATED_VERSION.match(result.deprecated) else "field"
                self._drop(
                    "api_versions", f"deprecated {what} (server warning): {result.deprecated}"
                )
            else:
                stage.kept += 1
                continue
            failed.add(id(cand))
            unit.failed = True
        for unit in units:
            unit.objects = [o for o in unit.objects if id(o) not in failed]
            for cand in unit.objects:
                self.totals.kinds_kept[cand.kind] += 1
                self.totals.repos_objects[cand.file.repo] += 1

    # -- docs -------------------------------------------------------------------------

    def _doc_units(
        self, file: SourceFile, concepts: list[tuple[SourceFile, docmod.SectionParts, str, str]]
    ) -> list[_Unit]:
        """A doc's sections: YAML sections become units, concept sections wait for
        synthesis; the prose of both is scanned for credentials."""
        stage = self.counters["docs"]
        if self._has_canary(file):
            return []
        with self.counters.timed("docs"):
            sections = docmod.split_sections(file.content)
            title = next((docmod.clean_heading(s.heading) for s in sections if s.level == 1), "")
            parts_of = [docmod.section_parts(s) for s in sections]
        units = []
        for number, parts in enumerate(parts_of):
            stage.seen += 1
            concept = not parts.yaml_blocks and docmod.is_concept(parts)
            if not parts.yaml_blocks and not concept:
                stage.apart["neither YAML nor a concept section"] += 1
                continue
            if found := self.scanner.findings(parts.prose):
                self._drop("docs", f"credential in the section's prose: {', '.join(found)}")
                continue
            # The whole section, before any trimming: contamination anywhere in it counts.
            if hit := self.index.check_text(f"{parts.heading}\n{parts.prose}"):
                if self.audit is not None:
                    self.audit.record("doc-section", f"{file.where}#{number}", hit)
                self._drop("docs", f"{hit.test} match with the benchmark")
                continue
            stage.kept += 1
            if concept:
                concepts.append((file, parts, f"{file.where}#{number}", title))
                continue
            unit = _Unit(file, "doc-yaml", parts=parts, title=title)
            docs = [
                DocumentText(d.text, d.first_line + line - 1)
                for text, line in parts.yaml_blocks
                for d in split_documents(text)
            ]
            self._objects_of(unit, docs)
            units.append(unit)
        return units

    # -- examples ---------------------------------------------------------------------

    def _messages(self, request: str, answer: str) -> list[dict[str, str]]:
        messages = []
        if self.config.system_prompt:
            messages.append({"role": "system", "content": self.config.system_prompt})
        messages += [{"role": "user", "content": request}, {"role": "assistant", "content": answer}]
        return messages

    def _unit_examples(self, unit: _Unit) -> list[Example]:
        if not unit.objects:
            return []
        file = unit.file
        if unit.origin == "doc-yaml":
            if unit.failed or len(unit.objects) != unit.expected:
                self.counters["docs"].kept -= 1
                self._drop("docs", "a YAML object of the section was dropped")
                return []
            assert unit.parts is not None
            key = unit.objects[0].unit
            style, request = docmod.yaml_request(unit.parts, unit.title, key)
            yamls = [unit.yamls[o.index] for o in unit.objects]
            answer = write_answer(yamls, [o.obj for o in unit.objects], "plain")
            return [self._example(file, "doc-yaml", style, request, answer, unit.objects)]
        out = []
        for group in group_related([o.obj for o in unit.objects]):
            members = [unit.objects[i] for i in group]
            style = choose_style("".join(m.canonical for m in members))
            request = write_request([m.obj for m in members], style)
            answer = write_answer(
                [unit.yamls[m.index] for m in members], [m.obj for m in members], style
            )
            out.append(self._example(file, "manifest", style, request, answer, members))
        return out

    def _concept_example(
        self, file: SourceFile, parts: docmod.SectionParts, key: str, title: str
    ) -> Example:
        style, question = docmod.concept_question(parts, title, key)
        return self._example(file, "doc-concept", style, question, docmod.trim(parts.prose), [])

    def _example(
        self,
        file: SourceFile,
        origin: str,
        style: str,
        request: str,
        answer: str,
        members: list[CandidateObject],
    ) -> Example:
        kinds = sorted({m.kind for m in members})
        return Example(
            messages=self._messages(request, answer),
            repo=file.repo,
            path=file.path,
            license=",".join(file.license),
            origin=origin,
            style=style,
            kinds=kinds,
            objects=len(members),
            without_namespace=sum(m.lacks_namespace for m in members),
            bare=sum(m.bare for m in members),
        )

    def _emit(self, examples: list[Example]) -> None:
        c = self.counters
        c["synthesis"].seen += len(examples)
        c["synthesis"].kept += len(examples)
        stage = c["example_decontamination"]
        for example in examples:
            with c.timed("example_decontamination"):
                stage.seen += 1
                text = "\n".join(m["content"] for m in example.messages if m["role"] != "system")
                hit = self.index.check_text(text)
            if hit is not None:
                if self.audit is not None:
                    self.audit.record(
                        "example", f"{example.repo}:{example.path}", hit, origin=example.origin
                    )
                self._drop("example_decontamination", f"{hit.test} match with the benchmark")
                continue
            stage.kept += 1
            t = self.totals
            t.examples += 1
            t.kinds_examples.update(example.kinds)
            t.licenses[example.license] += 1
            t.repos_examples[example.repo] += 1
            t.origins[example.origin] += 1
            t.styles[example.style] += 1
            if self.staging is not None:
                line = {"repo": example.repo, "record": example.record()}
                self.staging.write(json.dumps(line, ensure_ascii=False) + "\n")
