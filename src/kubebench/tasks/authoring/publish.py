"""Write the shipped files: the JSONL splits and the published JSON Schema.

`python -m kubebench.tasks.authoring.publish` (or `kubebench tasks generate`) regenerates them
byte for byte from the seeds in `kubebench.tasks.authoring.generator`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubebench.tasks.authoring.generator import generate_split
from kubebench.tasks.loader import CANARY_GUID, SPLITS, clear_cache, data_path, write_split
from kubebench.tasks.schema import Task


def task_json_schema() -> dict[str, Any]:
    """The JSON Schema of one line of a shipped JSONL file."""
    schema = Task.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "KubeBench task (one JSONL line)"
    props = schema["properties"]
    props["canary"] = {
        "type": "string",
        "const": CANARY_GUID,
        "description": "Contamination canary; the same on every line.",
    }
    props["setup"] = {
        "type": "array",
        "items": {"type": "string"},
        "description": "Kubernetes objects the harness creates first, each a JSON-encoded string.",
    }
    matcher = schema["$defs"]["FieldMatcher"]
    matcher["properties"].pop("value", None)
    matcher["properties"]["value_json"] = {
        "type": "string",
        "description": "The matcher's value, JSON-encoded.",
    }
    schema["required"] = sorted({*schema.get("required", []), "canary"})
    return schema


def write_shipped_files(dest: Path | None = None) -> list[Path]:
    """Generate every split and the schema into `dest` (default: the package data folder)."""
    folder = dest or data_path("")
    written = []
    for split in SPLITS:
        path = folder / f"{split}.jsonl"
        write_split(generate_split(split), path)
        written.append(path)
    schema_path = folder / "task.schema.json"
    schema_path.write_text(json.dumps(task_json_schema(), indent=2) + "\n", encoding="utf-8")
    written.append(schema_path)
    clear_cache()
    return written


if __name__ == "__main__":
    for p in write_shipped_files():
        print(p)
