"""Markdown docs as examples: sections with YAML become "write this" requests (heading
and prose as the request, the YAML as the answer); concept sections become
question-and-answer pairs (the heading as a question, the cleaned prose as the answer).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from kubebench.grading.extract import extract_yaml

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_WORD = re.compile(r"[A-Za-z]{2,}")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s")
# A concept section needs enough prose to answer a question, and not so much that the
# answer is a whole chapter.
MIN_CONCEPT_WORDS = 60
MAX_ANSWER_CHARS = 2400
_SKIP_HEADINGS = re.compile(
    r"\b(?:table of contents|toc|changelog|references?|see also|license|authors?|"
    r"implementation history|drawbacks|graduation criteria|test plan|prerequisites|"
    r"release signoff|feature enablement|rollout|scalability|troubleshooting|alternatives)\b",
    re.I,
)


@dataclass
class DocSection:
    heading: str
    level: int
    lines: list[str] = field(default_factory=list)
    first_line: int = 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def split_sections(markdown: str) -> list[DocSection]:
    """ATX-heading sections (headings inside code fences ignored), front matter dropped."""
    body = _FRONT_MATTER.sub("", markdown.replace("\r\n", "\n"), count=1)
    sections = [DocSection("", 0)]
    fence: str | None = None
    for number, line in enumerate(body.split("\n"), 1):
        match = _FENCE.match(line)
        if match:
            mark = match.group(1)
            if fence is None:
                fence = mark[0]
            elif mark[0] == fence:
                fence = None
        heading = _HEADING.match(line) if fence is None else None
        if heading:
            sections.append(DocSection(heading.group(2).strip(), len(heading.group(1)), [], number))
        else:
            sections[-1].lines.append(line)
    return [s for s in sections if s.heading or s.text.strip()]


def clean_prose(text: str) -> str:
    """Markdown prose as plain text: comments, tags and images gone, links as their text."""
    text = _COMMENT.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_heading(heading: str) -> str:
    return clean_prose(heading).strip("`*_ ").rstrip(":")


def trim(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """At most `limit` characters, cut at a paragraph (or sentence) boundary."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n\n", 0, limit)
    if cut < limit // 2:
        cut = text.rfind(". ", 0, limit) + 1
    return text[: cut if cut > 0 else limit].rstrip()


@dataclass(frozen=True)
class SectionParts:
    heading: str
    prose: str
    yaml_blocks: list[tuple[str, int]]  # text and first line
    other_code: bool


def section_parts(section: DocSection) -> SectionParts:
    extraction = extract_yaml(section.text)
    yaml_blocks = [(b.text, section.first_line + b.first_line) for b in extraction.blocks]
    other_code = "```" in extraction.prose or "~~~" in extraction.prose
    prose = clean_prose(re.sub(r"(?ms)^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", "", extraction.prose))
    return SectionParts(clean_heading(section.heading), prose, yaml_blocks, other_code)


def is_concept(parts: SectionParts) -> bool:
    """Enough prose under a heading worth asking about; lists of links or a table of
    contents are not prose."""
    lines = [line.strip() for line in parts.prose.split("\n") if line.strip()]
    listed = sum(1 for line in lines if _LIST_ITEM.match(line) or line.startswith("|"))
    return (
        not parts.yaml_blocks
        and bool(parts.heading)
        and not _SKIP_HEADINGS.search(parts.heading)
        and len(_WORD.findall(parts.prose)) >= MIN_CONCEPT_WORDS
        and listed <= len(lines) / 2
        and parts.prose.count(". ") + parts.prose.count(".\n") >= 2
    )


_QUESTIONS = (
    "Explain {topic} in the context of Kubernetes.",
    "I'm reading about {topic}. What should I know?",
    "Give me a short briefing on {topic}.",
    "How does {topic} work, and why does it matter for cluster operators?",
)
_YAML_REQUESTS = (
    "{topic}: show me the manifest for this.\n\n{context}",
    "Following the notes below on {topic}, write the YAML.\n\n{context}",
    "I need the Kubernetes objects for {topic}. Background:\n\n{context}",
)


def _pick(options: tuple[str, ...], key: str) -> tuple[int, str]:
    index = hashlib.sha256(key.encode()).digest()[0] % len(options)
    return index, options[index]


def concept_question(parts: SectionParts, title: str, key: str) -> tuple[str, str]:
    """(style, question) for a concept section; the doc title gives context."""
    topic = parts.heading if not title or title == parts.heading else f"{parts.heading} ({title})"
    index, template = _pick(_QUESTIONS, key)
    return f"concept-{index}", template.format(topic=topic)


def yaml_request(parts: SectionParts, title: str, key: str) -> tuple[str, str]:
    topic = parts.heading or title or "this example"
    context = trim(parts.prose, 700) or f"(from the {title or 'project'} docs)"
    index, template = _pick(_YAML_REQUESTS, key)
    return f"doc-yaml-{index}", template.format(topic=topic, context=context)
