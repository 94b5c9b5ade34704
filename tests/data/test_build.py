"""Whole builds on the real control plane: planted contamination removed and audited,
the output loadable and split by repository, the CLI's stats/show/check, the benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.cluster.kubeconfig import Connection
from kubebench.data.bench import make_stack_parquet, run_data_bench
from kubebench.data.build import build_dataset
from kubebench.data.contamination_check import check_dataset
from kubebench.data.pipeline import AUDIT_FILE, BuildConfig
from kubebench.data.readers import SourceSpec
from kubebench.tasks.loader import CANARY_GUID, load_tasks
from tests.data.conftest import read_jsonl, record, write_jsonl

runner = CliRunner()


def _pick_repos(rows: list[dict], per_repo: int) -> list[dict]:
    taken: dict[str, int] = {}
    out = []
    for row in rows:
        if taken.get(row["repo"], 0) < per_repo:
            taken[row["repo"]] = taken.get(row["repo"], 0) + 1
            out.append(row)
    return out


def _planted(tmp: Path) -> dict[str, Any]:
    tasks = load_tasks("test")
    role = next(t for t in tasks if t.category == "Role" and t.tier == "intermediate")
    configmap = next(t for t in tasks if t.category == "ConfigMap")
    obj = next(yaml.safe_load_all(configmap.reference))
    reordered = yaml.safe_dump(dict(reversed(list(obj.items()))), sort_keys=False)
    prompt_task = next(t for t in tasks if len(t.prompt.split()) >= 25)
    filler = " ".join(["Service accounts give pods an identity that RBAC can grant rights to."] * 8)
    paragraphs = "\n\n".join([filler] * 6)
    doc = f"# Identities\n\n## Giving workloads rights\n\n{paragraphs}\n\n{prompt_task.prompt}\n"
    canary = (
        f"# {CANARY_GUID}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marked\n"
        "data:\n  colour: teal\n"
    )
    return {
        "manifests": [
            record(role.reference, repo="planted/verbatim", path="role.yaml"),
            record(reordered, repo="planted/reordered", path="configmap.yaml"),
            record(canary, repo="planted/canary", path="marked.yaml"),
        ],
        "docs": [record(doc, repo="planted/doc", path="docs/identity.md")],
        "tasks": {"verbatim": role.id, "reordered": configmap.id, "prompt": prompt_task.id},
    }


@pytest.fixture(scope="module")
async def built(corpus: Path, connection: Connection, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("data-build")
    planted = _planted(tmp)
    manifests = _pick_repos(read_jsonl(corpus / "manifests.jsonl"), 12)
    docs = _pick_repos(read_jsonl(corpus / "docs.jsonl"), 1)
    m = write_jsonl(tmp / "manifests.jsonl", planted["manifests"] + manifests)
    d = write_jsonl(tmp / "docs.jsonl", docs + planted["docs"])
    out = tmp / "out"
    config = BuildConfig(
        sources=[SourceSpec("corpus", m), SourceSpec("corpus", d)],
        out=out,
        system_prompt="You write Kubernetes YAML.",
        chunk_files=40,
    )
    stats = await build_dataset(config, connection)
    return out, stats, planted


def test_planted_contamination_is_removed_and_audited(built) -> None:  # type: ignore[no-untyped-def]
    out, stats, planted = built
    audit = read_jsonl(out / AUDIT_FILE)
    by_where = {a["where"].split(" ")[0].split("#")[0]: a for a in audit}
    verbatim = by_where["planted/verbatim:role.yaml"]
    assert verbatim["test"] == "canonical" and verbatim["task"] == planted["tasks"]["verbatim"]
    reordered = by_where["planted/reordered:configmap.yaml"]
    assert reordered["test"] == "canonical" and reordered["task"] == planted["tasks"]["reordered"]
    assert by_where["planted/canary:marked.yaml"]["test"] == "canary"
    doc = by_where["planted/doc:docs/identity.md"]
    assert doc["test"] == "ngram" and doc["task"] == planted["tasks"]["prompt"]
    assert doc["field"] == "prompt"
    lines = (out / "train.jsonl").read_text() + (out / "validation.jsonl").read_text()
    assert "planted/" not in lines
    result = check_dataset(out)
    assert result.clean and result.examples == stats["examples"] > 50


def test_output_loads_with_datasets_and_splits_by_repository(built) -> None:  # type: ignore[no-untyped-def]
    datasets = pytest.importorskip("datasets")
    out, stats, _ = built
    ds = datasets.load_dataset(
        "json",
        data_files={"train": str(out / "train.jsonl"), "validation": str(out / "validation.jsonl")},
    )
    assert ds["train"].num_rows == stats["splits"]["train"] > 0
    assert ds["validation"].num_rows == stats["splits"]["validation"] > 0
    train_repos = {r["repo"] for r in ds["train"]["source"]}
    val_repos = {r["repo"] for r in ds["validation"]["source"]}
    assert train_repos and val_repos and not train_repos & val_repos
    first = ds["train"][0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    origins = {r["origin"] for r in ds["train"]["source"]} | {
        r["origin"] for r in ds["validation"]["source"]
    }
    assert {"manifest", "doc-concept"} <= origins
    # What `complete_objects` training keeps: the counts follow the objects themselves.
    seen: list[tuple[int, int]] = []
    for line in (out / "train.jsonl").read_text().splitlines():
        example = json.loads(line)
        source, answer = example["source"], example["messages"][-1]["content"]
        if source["origin"] != "manifest" or source["objects"] != 1:
            continue
        obj = next(d for d in yaml.safe_load_all(answer.split("```yaml\n")[1].split("```")[0]))
        meta = obj.get("metadata") or {}
        namespaced = obj["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding"}
        if obj["kind"] in {"ConfigMap", "Role", "ServiceAccount", "Namespace", "ClusterRole"}:
            assert source["without_namespace"] == int(namespaced and "namespace" not in meta)
            bare = set(obj) <= {"apiVersion", "kind", "metadata"} and set(meta) <= {"name"}
            assert source["bare"] == int(bare), (source, obj)
            seen.append((source["without_namespace"], source["bare"]))
    assert len(seen) > 20 and {n for n, _ in seen} == {0, 1}, seen


def test_every_stage_is_counted_with_reasons(built) -> None:  # type: ignore[no-untyped-def]
    out, stats, _ = built
    stages = stats["stages"]
    for name in ("read", "license", "split_parse", "api_versions", "exact_dedup", "dry_run",
                 "decontamination", "example_decontamination"):  # fmt: skip
        assert stages[name]["in"] > 0, name
    assert stages["decontamination"]["reasons"]["canonical match with the benchmark"] == 2
    assert stages["api_versions"]["counted_apart"]  # custom resources, counted apart
    assert stats["dry_run"]["objects_per_second"] > 0
    assert (out / "DATASET.md").read_text().startswith("# KubeBench training data")
    kept = stats["kinds"]["kept"]
    assert kept.get("ClusterRole", 0) > 0 and kept.get("ConfigMap", 0) > 0


def test_cli_stats_show_and_check(built) -> None:  # type: ignore[no-untyped-def]
    out, _, _ = built
    env = {"COLUMNS": "200"}
    result = runner.invoke(app, ["data", "stats", str(out)], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "dry_run" in result.output and "ClusterRole" in result.output
    result = runner.invoke(app, ["data", "show", str(out), "--n", "2"], env=env)
    assert result.exit_code == 0 and result.output.count("assistant:") == 2
    result = runner.invoke(app, ["data", "check", str(out)], env=env)
    assert result.exit_code == 0 and "0 canary hits, 0 shared 13-grams" in result.output
    bad = runner.invoke(app, ["data", "stats", str(out / "nope")], env=env)
    assert bad.exit_code != 0


def test_bad_source_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["data", "build", "--source", "zip:/x", "--out", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code != 0
    assert "bad --source" in str(result.exception or result.output)


async def test_bench_streams_a_perturbed_stack_parquet(
    corpus: Path, connection: Connection, tmp_path: Path
) -> None:
    parquet = tmp_path / "stack.parquet"
    made = make_stack_parquet(corpus / "manifests.jsonl", parquet, 400, row_group=100)
    assert sum(made.values()) == 400
    stats = await run_data_bench(SourceSpec("stack", parquet), connection)
    stages = stats["stages"]
    assert stages["read"]["in"] == 400
    assert stages["read"]["reasons"]  # the binary rows
    assert stages["license"]["reasons"] and stages["templates"]["reasons"]
    assert stages["exact_dedup"]["dropped"] > 0 and stages["near_dedup"]["dropped"] > 0
    assert stats["dry_run"]["requests"] > 0 and "synthesis" not in stages
    # The figure is this pytest process's peak (models loaded by earlier tests count):
    # the under-1-GiB goal is `kubebench bench data`'s, in a process of its own.
    assert stats["peak_rss_mib"] > 0


def test_cli_build_prints_plain_progress_off_a_terminal(
    corpus: Path, control_plane: Any, tmp_path: Path
) -> None:
    rows = _pick_repos(read_jsonl(corpus / "manifests.jsonl"), 3)[:20]
    src = write_jsonl(tmp_path / "m.jsonl", rows)
    out = tmp_path / "out"
    args = ["data", "build", "--source", f"corpus:{src}", "--out", str(out),
            "--kubeconfig", str(control_plane.kubeconfig_path), "--allow-external-writes",
            "--system-prompt", "none"]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "data build: read 20/20 files" in text and "(done)" in text
    assert "examples:" in text and (out / "train.jsonl").is_file()
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["role"] == "user"
