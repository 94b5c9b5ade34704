"""Provider options: how a provider documents them, and how they are checked.

Options reach a provider as keyword arguments of `create_provider`, or from the model id
itself (`hf:./base?adapter=./lora&dtype=bfloat16`), where every value is a string; a
pydantic model per provider coerces and validates them at this edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from kubebench.errors import UserError

OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass(frozen=True)
class ProviderHelp:
    """What `kubebench models list` shows about one provider."""

    summary: str
    id_syntax: str
    options: tuple[tuple[str, str], ...] = ()  # (name, what it does)
    environment: tuple[tuple[str, str], ...] = ()  # (variable, what it sets)
    examples: tuple[str, ...] = field(default_factory=tuple)


def parse_options(schema: type[OptionsT], options: Mapping[str, object], provider: str) -> OptionsT:
    """Validate `options` against `schema`; an unknown or malformed option is a UserError."""
    try:
        return schema.model_validate(dict(options))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "options"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown option {name!r}")
            else:
                problems.append(f"option {name!r}: {error['msg']}")
        known = ", ".join(sorted(schema.model_fields))
        raise UserError(
            f"{provider}: {'; '.join(problems)}",
            hint=f"options of {provider}: {known} (see `kubebench models list`)",
        ) from None


def url_has_userinfo(url: str) -> bool:
    """True when `url` carries `user[:password]@` before its host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return "@" in parts.netloc


def strip_userinfo(url: str) -> str:
    """`url` without `user[:password]@`: the form of a URL that may be recorded or shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
