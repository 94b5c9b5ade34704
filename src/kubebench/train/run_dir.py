"""The layout of a training run folder and its record, `train.json`.

```
RUN_DIR/config.yaml     the exact config (overrides applied)
RUN_DIR/train.json      versions, git revision, data card hash, mask check, segments
RUN_DIR/metrics.jsonl   one line per log of the trainer (loss, lr, grad norm, eval loss)
RUN_DIR/checkpoints/    checkpoint-N folders (resumable: optimizer, scheduler, RNG)
RUN_DIR/adapter/        the final LoRA adapter (safetensors + adapter_config.json)
RUN_DIR/merged/         the adapter merged into the base weights (or the full model)
RUN_DIR/README.md       the model card
RUN_DIR/analysis/       `kubebench train analyze` output
```
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebench.errors import UserError

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def record(self) -> Path:
        return self.root / "train.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def card(self) -> Path:
        return self.root / "README.md"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"

    def checkpoint_steps(self) -> dict[int, Path]:
        """Saved checkpoints by step (only complete ones: a trainer_state.json is the
        last file the trainer writes)."""
        found = {}
        if self.checkpoints.is_dir():
            for child in self.checkpoints.iterdir():
                match = CHECKPOINT_RE.match(child.name)
                if match and (child / "trainer_state.json").is_file():
                    found[int(match.group(1))] = child
        return dict(sorted(found.items()))

    def read_record(self) -> dict[str, Any]:
        try:
            return json.loads(self.record.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{self.root} is not a training run (no train.json)") from None
        except json.JSONDecodeError:
            raise UserError(f"{self.record} is not valid JSON") from None

    def write_record(self, record: dict[str, Any]) -> None:
        write_json_atomic(self.record, record)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The logged metrics; a torn last line (a kill mid-write) is skipped."""
    rows = []
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return rows


def truncate_metrics(path: Path, after_step: int) -> int:
    """Drop the lines logged after `after_step` (a killed run's work past its checkpoint,
    which the resumed run does again); returns how many were dropped."""
    rows = read_metrics(path)
    kept = [r for r in rows if r["step"] <= after_step]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), "utf-8")
    os.replace(tmp, path)
    return len(rows) - len(kept)
