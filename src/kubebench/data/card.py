"""The dataset card: stats.json (every count) and DATASET.md (the same, for people)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubebench.errors import UserError
from kubebench.tasks.schema import Kind

STATS_FILE = "stats.json"
CARD_FILE = "DATASET.md"
BENCHMARK_KINDS = [k.value for k in Kind]


def read_stats(out: Path) -> dict[str, Any]:
    path = out / STATS_FILE
    if not path.is_file():
        raise UserError(f"{out} has no {STATS_FILE}", hint="build one with `kubebench data build`")
    return json.loads(path.read_text(encoding="utf-8"))


def read_examples(out: Path, split: str, n: int) -> list[dict[str, Any]]:
    path = out / f"{split}.jsonl"
    if not path.is_file():
        raise UserError(f"{path} does not exist", hint="build one with `kubebench data build`")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if len(rows) >= n:
                break
    return rows


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(stats: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    stages = stats["stages"]
    stage_rows = []
    for name, s in stages.items():
        reasons = "; ".join(f"{r} ({n})" for r, n in list(s["reasons"].items())[:4])
        apart = "; ".join(f"{r} ({n})" for r, n in list(s["counted_apart"].items())[:3])
        stage_rows.append([name, s["unit"], s["in"], s["kept"], s["dropped"], reasons or "–",
                           apart or "–"])  # fmt: skip
    kinds = stats["kinds"]
    kind_rows = [
        [k, kinds["parsed"].get(k, 0), kinds["kept"].get(k, 0), kinds["examples"].get(k, 0)]
        for k in BENCHMARK_KINDS
    ]
    other = sorted(set(kinds["kept"]) - set(BENCHMARK_KINDS), key=lambda k: -kinds["kept"][k])
    kind_rows += [[k, kinds["parsed"].get(k, 0), kinds["kept"][k], kinds["examples"].get(k, 0)]
                  for k in other[:15]]  # fmt: skip
    repos = stats["repositories"]
    repo_rows = [
        [r, v["files"], v["objects"], v["examples"], v["split"]]
        for r, v in sorted(repos.items(), key=lambda kv: -kv[1]["examples"])
    ]
    split = stats["splits"]
    parts = [
        "# KubeBench training data",
        "",
        f"{stats['examples']} chat examples: {split['train']} in `train.jsonl`, "
        f"{split['validation']} in `validation.jsonl` (split by source repository; "
        f"validation holds {', '.join(split['validation_repositories']) or 'none'}).",
        'Load with `datasets.load_dataset("json", data_files={"train": "train.jsonl", '
        '"validation": "validation.jsonl"})`. Each line: `messages` (system, user, '
        "assistant) and `source` (repo, path, licence, origin, style, kinds, objects).",
        "",
        f"Sources: {', '.join(stats['config']['sources'])}. Built with kubebench "
        f"{stats['kubebench_version']} against kube-apiserver {stats['kubernetes_version']}.",
        "",
        "## Stages",
        "",
        _table(
            ["stage", "unit", "in", "kept", "dropped", "top reasons", "counted apart"], stage_rows
        ),
        "",
        f"Dry-run validation: {stats['dry_run']['requests']} objects in "
        f"{stats['dry_run']['seconds']} s ({stats['dry_run']['objects_per_second']} objects/s, "
        "fieldValidation=Strict).",
        "",
        "## Kinds (the eight benchmark kinds first)",
        "",
        _table(["kind", "parsed", "kept", "in examples"], kind_rows),
        "",
        "## Examples by origin, style and licence",
        "",
        _table(["origin", "examples"], [[k, v] for k, v in stats["origins"].items()]),
        "",
        _table(["style", "examples"], [[k, v] for k, v in stats["styles"].items()]),
        "",
        _table(["licence", "examples"], [[k, v] for k, v in stats["licenses"].items()]),
        "",
        "## Repositories",
        "",
        _table(["repository", "files", "objects kept", "examples", "split"], repo_rows),
        "",
        "## Decontamination",
        "",
        f"Against {stats['decontamination']['tasks']} benchmark tasks (test and dev): canary "
        f"GUID, shared {stats['decontamination']['ngram_size']}-token n-grams with any prompt "
        "or reference, canonical equality with any reference object. "
        f"{stats['decontamination']['removed']} removals, each in "
        "`decontamination_audit.jsonl`.",
        "",
        "## Samples",
        "",
    ]
    for sample in samples:
        user = next(m["content"] for m in sample["messages"] if m["role"] == "user")
        answer = next(m["content"] for m in sample["messages"] if m["role"] == "assistant")
        src = sample["source"]
        parts += [f"**{src['repo']}:{src['path']}** ({src['origin']}, {src['style']})", "",
                  "> " + user.replace("\n", "\n> "), "", answer[:1500], ""]  # fmt: skip
    return "\n".join(parts) + "\n"


def write_card(out: Path, stats: dict[str, Any]) -> None:
    (out / STATS_FILE).write_text(json.dumps(stats, indent=1, sort_keys=False) + "\n")
    samples: list[dict[str, Any]] = []
    train = out / "train.jsonl"
    if train.is_file():
        seen: set[str] = set()
        with train.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                origin = row["source"]["origin"]
                if origin not in seen:
                    seen.add(origin)
                    samples.append(row)
                if len(seen) == 3:
                    break
    (out / CARD_FILE).write_text(render_card(stats, samples), encoding="utf-8")
