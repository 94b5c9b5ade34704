"""Find the YAML in a model's answer and keep the rest apart as prose for the judge.

Models answer in Markdown: fenced blocks (```yaml, ```yml, bare ```, ~~~), sometimes
several, sometimes next to ```bash blocks of kubectl commands, and sometimes bare YAML
with a sentence before or after it. Rules, in order:

1. Fenced blocks tagged `yaml`/`yml` are the YAML; every other block is prose.
2. Without tagged blocks, untagged (or `json`) blocks that look like manifests (a line
   that starts with `apiVersion:` or `kind:`) are the YAML.
3. Without such blocks, YAML is found in the unfenced text: a whole answer that reads as
   YAML, or regions that start at an `apiVersion:`/`kind:`/`---` line and run until a
   line of prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")
_MANIFEST_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?[\"']?(?:apiVersion|kind)[\"']?[ \t]*:", re.M)
_START_LINE = re.compile(r"^(?:(?:apiVersion|kind)[ \t]*:|---(?:[ \t]|$))")
# A top-level line that continues a bare YAML region: Kubernetes fields are lowerCamel,
# so "Note: this binds..." (prose) ends the region while "metadata:" does not.
_TOP_KEY = re.compile(r"^(?:[a-z][A-Za-z0-9]*|\"[^\"]*\"|'[^']*')[ \t]*:(?:[ \t]|$)")
_YAML_LANGUAGES = frozenset({"yaml", "yml"})
_MANIFEST_LANGUAGES = frozenset({"", "json"})


@dataclass(frozen=True)
class YamlBlock:
    """One stretch of YAML text and where it starts in the answer (1-based line)."""

    text: str
    first_line: int
    fenced: bool
    language: str = ""


@dataclass(frozen=True)
class Extraction:
    """The YAML blocks of an answer, in order, and the prose around them."""

    blocks: list[YamlBlock] = field(default_factory=list)
    prose: str = ""


@dataclass
class _Fenced:
    language: str
    start: int  # index of the opening fence line
    end: int  # index of the closing fence line (len(lines) when unclosed)
    body: list[str]


def _language(info: str) -> str:
    word = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    return word.strip("{}.").split(":", 1)[0].lower()


def _fenced_blocks(lines: list[str]) -> list[_Fenced]:
    blocks: list[_Fenced] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match or (match.group("fence")[0] == "`" and "`" in match.group("info")):
            i += 1
            continue
        fence, indent = match.group("fence"), len(match.group("indent").expandtabs(4))
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        # Content lines lose the fence's own indentation (fences nested in list items).
        body = [_dedent(line, indent) for line in lines[i + 1 : j]]
        blocks.append(_Fenced(_language(match.group("info")), i, j, body))
        i = j + 1
    return blocks


def _dedent(line: str, width: int) -> str:
    stripped = 0
    while stripped < width and stripped < len(line) and line[stripped] == " ":
        stripped += 1
    return line[stripped:]


def _is_yaml_continuation(line: str) -> bool:
    if not line.strip() or line[0] in " \t#":
        return True
    return bool(
        line.startswith(("- ", "---", "..."))
        or line.rstrip() == "-"
        or _TOP_KEY.match(line)
        or _START_LINE.match(line)
    )


def _bare_regions(lines: list[str], skip: set[int]) -> list[tuple[int, int]]:
    """[start, end) line ranges of unfenced YAML, never crossing lines in `skip`."""
    free = [i for i in range(len(lines)) if i not in skip]
    if free and all(_is_yaml_continuation(lines[i]) for i in free) and not skip:
        return [(0, len(lines))] if any(_TOP_KEY.match(lines[i]) for i in free) else []
    regions: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if i in skip or not _START_LINE.match(lines[i]):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and j not in skip and _is_yaml_continuation(lines[j]):
            j += 1
        end = j
        while end > i and not lines[end - 1].strip():
            end -= 1
        if any(_TOP_KEY.match(lines[k]) for k in range(i, end)):
            regions.append((i, end))
        i = j
    return regions


def _prose(lines: list[str], yaml_lines: set[int]) -> str:
    text = "\n".join(line for i, line in enumerate(lines) if i not in yaml_lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def extract_yaml(answer: str) -> Extraction:
    """Split an answer into YAML blocks and prose (see the module docstring for rules)."""
    lines = answer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fenced = _fenced_blocks(lines)
    chosen = [b for b in fenced if b.language in _YAML_LANGUAGES]
    if not chosen:
        chosen = [
            b
            for b in fenced
            if b.language in _MANIFEST_LANGUAGES and _MANIFEST_LINE.search("\n".join(b.body))
        ]
    if chosen:
        blocks = [
            YamlBlock("\n".join(b.body), b.start + 2, fenced=True, language=b.language)
            for b in chosen
        ]
        taken = {i for b in chosen for i in range(b.start, min(b.end, len(lines) - 1) + 1)}
        return Extraction(blocks, _prose(lines, taken))
    inside_fences = {i for b in fenced for i in range(b.start, min(b.end, len(lines) - 1) + 1)}
    regions = _bare_regions(lines, inside_fences)
    blocks = [YamlBlock("\n".join(lines[s:e]), s + 1, fenced=False) for s, e in regions]
    taken = {i for s, e in regions for i in range(s, e)}
    return Extraction(blocks, _prose(lines, taken))
