"""The generator's data files (`tasks/authoring/data/*.yaml`), read and type-checked.

Values are validated against the Python type that uses them, so a YAML 1.1 surprise
(`yes` read as a boolean, `0755` as a number) fails loudly here instead of changing a
prompt.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


@cache
def read_data_file(name: str) -> Any:
    """The parsed YAML of `data/<name>` (cached: the files ship with the package)."""
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_data(name: str, shape: type[T] | Any, key: str | None = None) -> T:
    """`data/<name>` (or its top-level `key`) validated as `shape`."""
    raw = read_data_file(name)
    where = f"{name}:{key}" if key else name
    try:
        return TypeAdapter(shape).validate_python(raw[key] if key else raw)
    except (KeyError, ValidationError) as exc:
        raise ValueError(f"bad generator data file {where}: {exc}") from exc
