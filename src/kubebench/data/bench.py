"""`kubebench bench data`: a The-Stack-layout Parquet made from the corpus with
perturbations, streamed through every stage but synthesis, with rows/s per stage,
dry-run objects/s and peak RSS."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.cluster.kubeconfig import Connection
from kubebench.data.build import build_stats, peak_rss_mib, run_curator
from kubebench.data.pipeline import BuildConfig
from kubebench.data.progress import Progress
from kubebench.data.readers import SourceSpec

_NAME_LINE = re.compile(r"^(\s*name:\s*)([A-Za-z0-9][\w.-]*)\s*$", re.M)
# (perturbation, share of rows); the rest are verbatim copies.
PERTURBATIONS = (
    ("rename", 0.25),
    ("reformat", 0.15),
    ("relabel", 0.10),
    ("template", 0.05),
    ("gpl", 0.05),
    ("removed_api", 0.03),
    ("credential", 0.03),
    ("binary", 0.01),
    ("not_yaml", 0.02),
)


def _perturb(content: str, how: str, rng: random.Random, row: int) -> str | bytes:
    if how == "rename":
        return _NAME_LINE.sub(lambda m: f"{m.group(1)}{m.group(2)}-r{row}", content)
    if how == "reformat":
        return "# copied from upstream\n" + content.replace("\n", "  \n", 3) + "\n"
    if how == "relabel":
        if "  labels:\n" in content:
            return content.replace("  labels:\n", f"  labels:\n    copy: c{row}\n", 1)
        return re.sub(
            r"^metadata:\n", f"metadata:\n  labels:\n    fork: f{row % 97}\n", content,
            count=1, flags=re.M,
        )  # fmt: skip
    if how == "template":
        return content.replace("name: ", "name: {{ .Values.prefix }}-", 1)
    if how == "removed_api":
        return content.replace("apiVersion: rbac.authorization.k8s.io/v1\n",
                               "apiVersion: rbac.authorization.k8s.io/v1beta1\n").replace(
            "apiVersion: apps/v1\n", "apiVersion: extensions/v1beta1\n")  # fmt: skip
    if how == "credential":
        key = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        return content + (
            f"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked-{row}\n"
            f"stringData:\n  AWS_ACCESS_KEY_ID: {key}\n"
        )
    if how == "binary":
        return b"\x00\x01\x02" + content.encode() + b"\xff\xfe"
    if how == "not_yaml":
        return "This is not a manifest: " + " ".join(content.split()[:40])
    return content


def make_stack_parquet(
    corpus: Path,
    path: Path,
    rows: int,
    seed: int = 0,
    row_group: int = defaults.BENCH_DATA_ROW_GROUP,
) -> dict[str, int]:
    """Write `rows` rows in The Stack's columns; returns how many of each perturbation."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = [json.loads(line) for line in corpus.open(encoding="utf-8")]
    base = [r for r in base if r["path"].endswith((".yaml", ".yml"))]
    rng = random.Random(seed)
    schema = pa.schema([
        ("content", pa.binary()),
        ("max_stars_repo_name", pa.string()),
        ("max_stars_repo_path", pa.string()),
        ("max_stars_repo_licenses", pa.list_(pa.string())),
        ("max_stars_repo_head_hexsha", pa.string()),
    ])  # fmt: skip
    made: dict[str, int] = {}
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, row_group):
            cols: dict[str, list[Any]] = {name: [] for name in schema.names}
            for row in range(start, min(rows, start + row_group)):
                record = rng.choice(base)
                roll, how = rng.random(), "verbatim"
                for name, share in PERTURBATIONS:
                    if roll < share:
                        how = name
                        break
                    roll -= share
                made[how] = made.get(how, 0) + 1
                content = _perturb(record["content"], how, rng, row)
                cols["content"].append(content.encode() if isinstance(content, str) else content)
                cols["max_stars_repo_name"].append(f"{record['repo']}-fork{row % 50}")
                cols["max_stars_repo_path"].append(record["path"])
                cols["max_stars_repo_licenses"].append(
                    ["GPL-3.0-only"] if how == "gpl" else [record["license"]]
                )
                cols["max_stars_repo_head_hexsha"].append(record.get("commit", ""))
            writer.write_table(pa.table(cols, schema=schema))
    return made


async def run_data_bench(
    spec: SourceSpec,
    conn: Connection,
    progress: Progress | None = None,
    concurrency: int = defaults.DATA_VALIDATION_CONCURRENCY,
) -> dict[str, Any]:
    """Every stage but synthesis over `spec`; the figures for the note."""
    config = BuildConfig(sources=[spec], out=None, synthesize=False, concurrency=concurrency)
    start = time.perf_counter()
    curator = await run_curator(config, conn, progress)
    seconds = time.perf_counter() - start
    stats = build_stats(curator, seconds)
    rows = curator.counters["read"].seen
    stats["rows"] = rows
    stats["rows_per_second"] = round(rows / seconds, 1) if seconds else None
    stats["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return stats
