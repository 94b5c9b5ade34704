"""`kubebench data ...`: curate training data (build, stats, show, check) and
`kubebench bench data`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from kubebench import defaults
from kubebench.cli import options
from kubebench.cli.console import err, out, progress_bar
from kubebench.data.counters import StageCounters
from kubebench.errors import UserError

data_app = typer.Typer(
    rich_markup_mode=None,
    help="Curate fine-tuning data: real Kubernetes YAML and docs into validated, "
    "deduplicated, decontaminated chat examples.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from kubebench.cli.bench import bench_app

    app.add_typer(data_app, name="data")
    bench_app.command("data")(bench_data)


class _RichProgress:
    """One bar row per stage, advanced from the pipeline's counters after each chunk."""

    def __init__(self, total: int | None) -> None:
        self.bar = progress_bar(console=err)
        self.total = total
        self.rows: dict[str, object] = {}

    def __enter__(self) -> _RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, counters: StageCounters, *, final: bool = False) -> None:
        for name, stage in counters.stages.items():
            if not stage.seen:
                continue
            if name not in self.rows:
                total = self.total if name == "read" else None
                self.rows[name] = self.bar.add_task(name, total=total)
            label = f"{name} [dim]({stage.kept} kept, {stage.unit})[/]"
            self.bar.update(self.rows[name], completed=stage.seen, description=label)  # type: ignore[arg-type]


def _progress(sources: list, label: str):  # type: ignore[no-untyped-def]
    from kubebench.data.progress import PlainProgress, count_records

    total = sum(count_records(s.files(), s.kind) or 0 for s in sources) or None
    if err.is_terminal:
        return _RichProgress(total)
    return _PlainContext(PlainProgress(total, sys.stderr, label=label))


class _PlainContext:
    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __enter__(self) -> object:
        return self.inner

    def __exit__(self, *exc: object) -> None:
        return None


def _require_data_extra() -> None:
    import importlib.util

    missing = [
        m for m in ("pyarrow", "datasketch", "detect_secrets") if not importlib.util.find_spec(m)
    ]
    if missing:
        raise UserError(
            f"kubebench data needs {', '.join(missing)}", hint="pip install 'kubebench[data]'"
        )


def _system_prompt(choice: str) -> str | None:
    if choice == "none":
        return None
    if choice == "benchmark":
        from kubebench.models.prompts import SYSTEM_PROMPT

        return SYSTEM_PROMPT
    raise UserError(f"--system-prompt {choice!r}", hint="choose benchmark or none")


@data_app.command("build")
def data_build(
    source: list[str] = typer.Option(
        ..., "--source", help="KIND:PATH, KIND one of corpus, stack, markdown (repeatable)."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Output folder (created; files replaced)."),
    default_license: str = typer.Option(
        None, help="SPDX licence for sources that record none (Markdown folders)."
    ),
    ngram: int = typer.Option(
        defaults.DATA_DECONTAM_NGRAM, min=10, max=13, help="Decontamination n-gram size."
    ),
    jaccard: float = typer.Option(defaults.DATA_JACCARD_THRESHOLD, help="Near-dup threshold."),
    validation_fraction: float = typer.Option(
        defaults.DATA_VALIDATION_FRACTION, help="Share of examples held out by repository."
    ),
    keep_unknown_kinds: bool = typer.Option(
        False, help="Keep custom-resource objects the server cannot validate."
    ),
    system_prompt: str = typer.Option(
        "benchmark", help="benchmark: the benchmark's system prompt first; none: no system turn."
    ),
    concurrency: int = typer.Option(
        defaults.DATA_VALIDATION_CONCURRENCY, min=1, help="Dry-run requests in flight."
    ),
    kubeconfig: Path = options.KUBECONFIG,
    context: str = options.CONTEXT,
    allow_external_writes: bool = options.ALLOW_EXTERNAL_WRITES,
) -> None:
    """Curate sources into validated, deduplicated, decontaminated chat examples.

    Writes train.jsonl, validation.jsonl, DATASET.md, stats.json and
    decontamination_audit.jsonl. Example: kubebench data build --source
    corpus:../shared/corpus/manifests.jsonl --source corpus:../shared/corpus/docs.jsonl
    --out datasets/corpus-v1
    """
    from kubebench.cluster.session import cluster_connection
    from kubebench.data.build import build_dataset
    from kubebench.data.pipeline import BuildConfig
    from kubebench.data.readers import SourceSpec

    _require_data_extra()
    specs = [SourceSpec.parse(s) for s in source]
    if not 0 <= validation_fraction < 1:
        raise UserError(f"--validation-fraction must be in [0, 1), not {validation_fraction}")
    config = BuildConfig(
        sources=specs,
        out=out_dir,
        default_license=default_license,
        ngram=ngram,
        jaccard=jaccard,
        validation_fraction=validation_fraction,
        keep_unknown_kinds=keep_unknown_kinds,
        system_prompt=_system_prompt(system_prompt),
        concurrency=concurrency,
    )
    with (
        cluster_connection(
            kubeconfig, context, allow_external_writes=allow_external_writes
        ) as conn,
        _progress(specs, "data build") as progress,
    ):
        stats = asyncio.run(build_dataset(config, conn, progress))
    _print_stats(stats)
    out.print(f"wrote {out_dir}/train.jsonl, validation.jsonl, DATASET.md, stats.json")


def _print_stats(stats: dict) -> None:  # type: ignore[type-arg]
    table = Table(title="stages")
    for col in ("stage", "unit", "in", "kept", "dropped", "apart", "per second"):
        table.add_column(col, justify="left" if col in ("stage", "unit") else "right")
    for name, s in stats["stages"].items():
        rate = "" if s["per_second"] is None else f"{s['per_second']:.0f}"
        apart = str(sum(s["counted_apart"].values()))
        row = (name, s["unit"], str(s["in"]), str(s["kept"]), str(s["dropped"]), apart, rate)
        table.add_row(*row)
    out.print(table)
    kinds = Table(title="kinds")
    for col in ("kind", "parsed", "kept", "in examples"):
        kinds.add_column(col, justify="left" if col == "kind" else "right")
    from kubebench.data.card import BENCHMARK_KINDS

    for kind in BENCHMARK_KINDS:
        k = stats["kinds"]
        kinds.add_row(kind, *(str(k[c].get(kind, 0)) for c in ("parsed", "kept", "examples")))
    out.print(kinds)
    if "splits" in stats:
        s = stats["splits"]
        out.print(
            f"examples: {stats['examples']} (train {s['train']}, validation {s['validation']}); "
            f"dry-run {stats['dry_run']['objects_per_second']} objects/s; "
            f"peak RSS {stats['peak_rss_mib']} MiB"
        )


@data_app.command("stats")
def data_stats(
    directory: Path = typer.Argument(..., help="A folder written by `kubebench data build`."),
    as_json: bool = typer.Option(False, "--json", help="Print stats.json as it is."),
) -> None:
    """The card's counts: per stage, per kind, examples and splits."""
    from kubebench.data.card import read_stats

    stats = read_stats(directory)
    if as_json:
        out.print_json(json.dumps(stats))
        return
    _print_stats(stats)


@data_app.command("show")
def data_show(
    directory: Path = typer.Argument(..., help="A folder written by `kubebench data build`."),
    n: int = typer.Option(5, "--n", min=1, help="How many examples."),
    split: str = typer.Option("train", help="train or validation."),
) -> None:
    """Print the first N examples of a split, message by message."""
    from kubebench.data.card import read_examples

    if split not in ("train", "validation"):
        raise UserError(f"--split {split!r}", hint="choose train or validation")
    for number, row in enumerate(read_examples(directory, split, n), 1):
        src = row["source"]
        out.rule(f"{number}. {src['repo']}:{src['path']} ({src['origin']}, {src['style']})")
        for message in row["messages"]:
            if message["role"] == "system":
                continue
            out.print(f"[bold]{message['role']}[/]:", highlight=False)
            out.print(message["content"], markup=False, highlight=False)


@data_app.command("check")
def data_check(
    directory: Path = typer.Argument(..., help="A folder written by `kubebench data build`."),
    ngram: int = typer.Option(
        defaults.DATA_DECONTAM_NGRAM, min=5, help="n-gram size of the overlap test."
    ),
) -> None:
    """Check a built dataset for benchmark contamination, independently of the build.

    Counts canary hits, shared n-grams with any test/dev prompt or reference, and
    reference objects found in answers; exits 1 if any."""
    from kubebench.data.contamination_check import check_dataset

    if not directory.is_dir():
        raise UserError(f"{directory} is not a folder")
    result = check_dataset(directory, ngram)
    out.print(
        f"{result.examples} examples: {result.canary_hits} canary hits, "
        f"{result.shared_ngrams} shared {ngram}-grams, {result.canonical_matches} canonical "
        "matches with reference objects"
    )
    if not result.clean:
        out.print("offending lines: " + ", ".join(result.offenders))
        raise typer.Exit(1)


def bench_data(
    corpus: Path = typer.Option(
        Path("../shared/corpus/manifests.jsonl"), help="Corpus JSONL the rows are made from."
    ),
    rows: int = typer.Option(defaults.BENCH_DATA_ROWS, min=100, help="Rows of the Parquet."),
    workdir: Path = typer.Option(
        Path("/tmp/kubebench-bench-data"), help="Where the Parquet is written."
    ),
    concurrency: int = typer.Option(defaults.DATA_VALIDATION_CONCURRENCY, min=1),
    kubeconfig: Path = options.KUBECONFIG,
    context: str = options.CONTEXT,
    allow_external_writes: bool = options.ALLOW_EXTERNAL_WRITES,
) -> None:
    """Stream a perturbed The-Stack-layout Parquet through every stage but synthesis.

    Makes ROWS rows from the corpus (copies, renames, relabels, templates, GPL, removed
    apiVersions, credentials, binary and non-YAML rows), then reports rows/s per stage,
    dry-run objects/s and peak RSS."""
    from kubebench.cluster.session import cluster_connection
    from kubebench.data.bench import make_stack_parquet, run_data_bench
    from kubebench.data.readers import SourceSpec

    _require_data_extra()
    if not corpus.is_file():
        raise UserError(f"--corpus {corpus} does not exist")
    workdir.mkdir(parents=True, exist_ok=True)
    parquet = workdir / f"stack-{rows}.parquet"
    with err.status(f"writing {rows} rows to {parquet}"):
        made = make_stack_parquet(corpus, parquet, rows)
    err.print(f"made {parquet}: {made}")
    spec = SourceSpec("stack", parquet)
    with (
        cluster_connection(
            kubeconfig, context, allow_external_writes=allow_external_writes
        ) as conn,
        _progress([spec], "bench data") as progress,
    ):
        result = asyncio.run(run_data_bench(spec, conn, progress, concurrency))
    table = Table(title=f"kubebench bench data ({rows} rows)")
    for col in ("stage", "unit", "in", "kept", "seconds", "per second"):
        table.add_column(col, justify="left" if col in ("stage", "unit") else "right")
    for name, s in result["stages"].items():
        rate = "" if s["per_second"] is None else f"{s['per_second']:.0f}"
        table.add_row(name, s["unit"], str(s["in"]), str(s["kept"]), f"{s['seconds']:.1f}", rate)
    out.print(table)
    out.print(
        f"total {result['seconds']} s ({result['rows_per_second']} rows/s); dry-run "
        f"{result['dry_run']['requests']} objects at {result['dry_run']['objects_per_second']} "
        f"objects/s; peak RSS {result['peak_rss_mib']} MiB"
    )
