"""Credentials that look real (private keys, cloud keys, tokens), found by detect-secrets.

Yelp's detect-secrets is a maintained scanner with one plugin per credential format. Its
entropy and keyword plugins are left out: Kubernetes YAML is full of base64 data,
certificates and fields named `password`, and those plugins would flag most Secrets and
ConfigMaps. A Secret's `data` values are scanned decoded too, so a base64-wrapped
private key is found. An object with a finding is dropped, never redacted: a redacted
manifest would teach the model to write `REDACTED`.
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import ExitStack
from typing import Any

_NOISY_PLUGINS = frozenset(
    ("KeywordDetector", "Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector")
)


def _decoded_data(obj: dict[str, Any]) -> list[str]:
    data = obj.get("data") if obj.get("kind") == "Secret" else None
    out = []
    if isinstance(data, dict):
        for value in data.values():
            if not isinstance(value, str):
                continue
            try:
                out.append(base64.b64decode(value, validate=True).decode("utf-8", "replace"))
            except (binascii.Error, ValueError):
                continue
    return out


class CredentialScanner:
    """`with CredentialScanner() as scan: scan.findings(text)`; detect-secrets keeps its
    plugin settings in process-wide state, set on entry and restored on exit."""

    def __init__(self) -> None:
        self._stack = ExitStack()

    def __enter__(self) -> CredentialScanner:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import transient_settings

        plugins = [
            {"name": cls.__name__}
            for cls in get_mapping_from_secret_type_to_class().values()
            if cls.__name__ not in _NOISY_PLUGINS
        ]
        self._stack.enter_context(transient_settings({"plugins_used": plugins}))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def findings(self, text: str) -> list[str]:
        """The credential types found in `text` (scanned whole: one pass per plugin)."""
        from detect_secrets.core.scan import scan_line

        return sorted({secret.type for secret in scan_line(text)})

    def object_reason(self, obj: dict[str, Any]) -> str | None:
        text = "\n".join([json.dumps(obj, ensure_ascii=False), *_decoded_data(obj)])
        found = self.findings(text)
        return f"credential: {', '.join(found)}" if found else None
