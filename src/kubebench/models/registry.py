"""Find model providers by name and create them from `provider:name` ids.

Providers are entry points of the group `kubebench.providers`: each names a factory
(usually the provider class) called as `factory(name, **options)`, where `name` is the
text after the first colon. A provider's module imports its SDK (httpx, torch, ...) only
when a provider is created, so listing providers stays cheap.

A model id may carry options after a `?`, URL-query style, so that commands which take
only a model id can still configure it: `hf:./base?adapter=./lora&dtype=bfloat16`.
Keyword options passed to `create_provider` win over those in the id.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any
from urllib.parse import parse_qsl

from kubebench.errors import UserError
from kubebench.models.base import ModelProvider
from kubebench.models.options import ProviderHelp, strip_userinfo, url_has_userinfo

ENTRY_POINT_GROUP = "kubebench.providers"

# Options that must never appear in a model id: ids are written into run records.
SECRET_OPTIONS = frozenset({"api_key"})


@dataclass(frozen=True)
class ProviderInfo:
    """One registered provider, as `kubebench models list` shows it."""

    name: str
    target: str  # the entry point's `module:attribute`
    help: ProviderHelp | None
    load_error: str | None = None  # why the provider's module could not be imported


@dataclass(frozen=True)
class ModelId:
    """A parsed `provider:name?option=value&...` id."""

    provider: str
    name: str
    options: dict[str, str]


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)  # a stale duplicate never shadows the first
    return found


def list_providers() -> list[ProviderInfo]:
    """Every registered provider, sorted by name, with its help when it has one."""
    infos = []
    for name, point in sorted(_entry_points().items()):
        try:
            factory = point.load()
        except Exception as exc:  # a broken plugin must not hide the others
            infos.append(ProviderInfo(name, point.value, None, f"{type(exc).__name__}: {exc}"))
            continue
        help_ = getattr(factory, "PROVIDER_HELP", None)
        if not isinstance(help_, ProviderHelp):
            summary = (factory.__doc__ or "").strip().splitlines()
            help_ = ProviderHelp(summary=summary[0] if summary else "", id_syntax=f"{name}:<name>")
        infos.append(ProviderInfo(name, point.value, help_))
    return infos


def parse_model_id(model_id: str) -> ModelId:
    """Split `provider:name?k=v&...`; a bare `provider` has an empty name."""
    text = model_id.strip()
    if not text:
        raise UserError("empty model id", hint="use provider:name, e.g. openai:gpt-4o-mini")
    provider, _, rest = text.partition(":")
    name, question, query = rest.partition("?")
    options: dict[str, str] = {}
    if question:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError as exc:
            raise UserError(f"cannot read the options in model id {model_id!r}: {exc}") from None
        options = dict(pairs)
    leaked = SECRET_OPTIONS & options.keys()
    leaked |= {key for key, value in options.items() if url_has_userinfo(value)}
    if url_has_userinfo(name):
        leaked.add("credentials in its name")
    if leaked:
        raise UserError(
            f"model id {provider}:{strip_userinfo(name)} carries "
            f"{', '.join(sorted(leaked))}, which would be written into run records",
            hint="pass secrets through the environment (e.g. OPENAI_API_KEY), never as "
            "user:password@ in a URL",
        )
    return ModelId(provider=provider.strip(), name=name.strip(), options=options)


def create_provider(model_id: str, **options: Any) -> ModelProvider:
    """Create the provider for `provider:name` (an unknown provider is a UserError)."""
    parsed = parse_model_id(model_id)
    points = _entry_points()
    point = points.get(parsed.provider)
    if point is None:
        known = ", ".join(sorted(points)) or "none (is kubebench installed?)"
        raise UserError(
            f"unknown model provider {parsed.provider!r} in {model_id!r}; known providers: {known}",
            hint="see `kubebench models list`",
        )
    try:
        factory = point.load()
    except ImportError as exc:
        raise UserError(
            f"provider {parsed.provider!r} cannot be loaded: {exc}",
            hint="install its extra, e.g. pip install 'kubebench[hf]'",
        ) from exc
    return factory(parsed.name, **{**parsed.options, **options})
