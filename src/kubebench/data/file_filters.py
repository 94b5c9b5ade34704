"""File-level filters: licence allowlist, StarCoder-like size and line filters, templates.

Each returns None to keep a file, or the reason it is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubebench import defaults
from kubebench.data.records import SourceFile

# Helm and Go templates: `{{ .Values.x }}`, `{{- include ... }}`.
_GO_TEMPLATE = re.compile(r"\{\{-?\s*[^{}]*\}\}")
# Jinja and Ansible statement blocks.
_JINJA_STATEMENT = re.compile(r"\{%-?\s*(?:if|for|set|include|block|macro)\b")


def license_reason(file: SourceFile, allowlist: Iterable[str]) -> str | None:
    allowed = {a.lower() for a in allowlist}
    if not file.license:
        return "no licence recorded"
    refused = [lic for lic in file.license if lic.lower() not in allowed]
    if refused:
        return f"licence not on the allowlist: {refused[0]}"
    return None


def size_reason(content: str) -> str | None:
    """StarCoder's filters for data files: size, longest line, mean line, alphanumerics."""
    size = len(content.encode("utf-8", "surrogatepass"))
    if size < defaults.DATA_MIN_FILE_BYTES:
        return f"under {defaults.DATA_MIN_FILE_BYTES} bytes"
    if size > defaults.DATA_MAX_FILE_BYTES:
        return f"over {defaults.DATA_MAX_FILE_BYTES // 1024} KiB"
    lines = content.splitlines() or [""]
    longest = max(len(line) for line in lines)
    if longest > defaults.DATA_MAX_LINE_LENGTH:
        return f"a line over {defaults.DATA_MAX_LINE_LENGTH} characters"
    if len(content) / len(lines) > defaults.DATA_MAX_MEAN_LINE_LENGTH:
        return f"mean line over {defaults.DATA_MAX_MEAN_LINE_LENGTH:.0f} characters"
    alnum = sum(ch.isalnum() for ch in content)
    if alnum / max(len(content), 1) < defaults.DATA_MIN_ALNUM_FRACTION:
        return f"under {defaults.DATA_MIN_ALNUM_FRACTION:.0%} alphanumeric characters"
    return None


def template_reason(content: str) -> str | None:
    """Helm/Go or Jinja templating: the file is not YAML until rendered."""
    if _GO_TEMPLATE.search(content):
        return "Helm/Go template ({{ }})"
    if _JINJA_STATEMENT.search(content):
        return "Jinja template ({% %})"
    return None
