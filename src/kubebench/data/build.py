"""One call for a whole build: cluster client, benchmark index, stages, splits, card."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from kubebench import __version__, defaults
from kubebench.cluster.client import KubeClient
from kubebench.cluster.kubeconfig import Connection
from kubebench.data.card import write_card
from kubebench.data.decontamination import BenchmarkIndex
from kubebench.data.output import write_splits
from kubebench.data.pipeline import STAGING_FILE, BuildConfig, Curator
from kubebench.data.progress import Progress


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_stats(curator: Curator, seconds: float) -> dict[str, Any]:
    t = curator.totals
    rate = t.dry_run_requests / t.dry_run_seconds if t.dry_run_seconds else None
    return {
        "kubebench_version": __version__,
        "kubernetes_version": defaults.KUBERNETES_VERSION,
        "config": curator.config.describe(),
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "examples": t.examples,
        "stages": curator.counters.as_dict(),
        "dry_run": {
            "requests": t.dry_run_requests,
            "seconds": round(t.dry_run_seconds, 2),
            "objects_per_second": round(rate, 1) if rate else None,
            "concurrency": curator.config.concurrency,
        },
        "kinds": {
            "parsed": dict(t.kinds_parsed.most_common()),
            "kept": dict(t.kinds_kept.most_common()),
            "examples": dict(t.kinds_examples.most_common()),
        },
        "origins": dict(t.origins.most_common()),
        "styles": dict(t.styles.most_common()),
        "licenses": dict(t.licenses.most_common()),
        "decontamination": {
            **curator.index.summary(),
            "removed": curator.audit.count if curator.audit else 0,
        },
        "distinct_objects": len(curator.exact),
        "near_dedup_index": len(curator.near),
    }


async def run_curator(
    config: BuildConfig,
    conn: Connection,
    progress: Progress | None = None,
    index: BenchmarkIndex | None = None,
) -> Curator:
    index = index or BenchmarkIndex.from_splits(n=config.ngram)
    async with KubeClient(conn, max_connections=config.concurrency + 8) as kube:
        curator = Curator(config, kube, index, progress)
        await curator.run()
    return curator


async def build_dataset(
    config: BuildConfig,
    conn: Connection,
    progress: Progress | None = None,
    index: BenchmarkIndex | None = None,
) -> dict[str, Any]:
    """Build train/validation files and the card in `config.out`; return stats.json."""
    assert config.out is not None
    start = time.perf_counter()
    curator = await run_curator(config, conn, progress, index)
    out: Path = config.out
    splits = write_splits(out, out / STAGING_FILE, config.validation_fraction)
    stats = build_stats(curator, time.perf_counter() - start)
    validation = set(splits["validation_repositories"])  # type: ignore[arg-type]
    t = curator.totals
    stats["splits"] = splits
    stats["repositories"] = {
        repo: {
            "files": t.repos_files[repo],
            "objects": t.repos_objects[repo],
            "examples": t.repos_examples[repo],
            "split": "validation" if repo in validation else "train",
        }
        for repo in sorted(set(t.repos_files) | set(t.repos_examples))
    }
    write_card(out, stats)
    return stats
