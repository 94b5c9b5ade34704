"""The model card (`README.md`) of a trained run, copied into `adapter/` and `merged/`."""

from __future__ import annotations

import json
import shutil
from typing import Any

from kubebench.train.run_dir import RunDir


def _loss_lines(run: RunDir) -> list[str]:
    from kubebench.errors import UserError
    from kubebench.train.analysis import analyze_run

    try:
        analysis = analyze_run(run.root)
    except UserError:
        return ["No loss logged."]
    s = analysis.summary
    lines = [
        f"- training loss: {s['train_loss_first']:.4f} → {s['train_loss_last']:.4f} "
        f"over {s['steps']} steps",
    ]
    if analysis.best_eval_step is not None:
        lines.append(
            f"- best validation loss: {analysis.best_eval_loss:.4f} at step "
            f"{analysis.best_eval_step}"
        )
    lines.append(
        "- findings: "
        + ("none" if analysis.healthy else "; ".join(f.detail for f in analysis.findings))
    )
    return lines


def _benchmark_lines(run: RunDir, record: dict[str, Any]) -> list[str]:
    path = run.root / "dev_eval.json"
    base = record["base_model"]["model_id"]
    exported = record.get("exported", {})
    tuned = exported.get("model_id_adapter") or exported.get("model_id_merged") or "TUNED"
    if not path.is_file():
        return [
            "Not measured with this card. Grade base and tuned on the same tasks, then compare:",
            "",
            "```bash",
            f'kubebench run --model "{base}" --stratified 5 --run-id base',
            f'kubebench run --model "{tuned}" --stratified 5 --run-id tuned',
            "kubebench compare runs/base runs/tuned   # paired bootstrap CI, exact McNemar",
            "```",
        ]
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        f"Dev split ({data.get('stratified') or 'all'} per kind × tier), greedy, graded on a "
        f"real API server; best by dev success: {data.get('best')}.",
        "",
        "| model | dev tasks | success | 95 % CI (Wilson) |",
        "|---|---|---|---|",
    ]
    for row in data.get("results", []):
        lines.append(
            f"| {row['label']} | {row['attempts']} | {row['success'] * 100:.1f} % | "
            f"{row['ci_low'] * 100:.1f}–{row['ci_high'] * 100:.1f} % |"
        )
    return lines


def render_model_card(run: RunDir, record: dict[str, Any]) -> str:
    config = record["config"]
    segments = record.get("segments", [])
    seconds = sum(s.get("seconds") or 0 for s in segments)
    speeds = [s["tokens_per_s"] for s in segments if s.get("tokens_per_s")]
    hw = record.get("hardware", {})
    exported = record.get("exported", {})
    mask = record.get("loss_mask", {})
    hyper = {
        k: config[k]
        for k in (
            "method",
            "max_length",
            "epochs",
            "max_steps",
            "learning_rate",
            "lr_scheduler",
            "warmup",
            "batch_size",
            "grad_accumulation",
            "seed",
            "eval_steps",
        )
    }
    if config["method"] != "full":
        hyper["lora"] = config["lora"]
    lines = [
        "---",
        "library_name: peft" if config["method"] != "full" else "library_name: transformers",
        f"base_model: {record['base_model']['model_id']}",
        "tags: [kubernetes, kubebench, sft]",
        "---",
        "",
        f"# {record['base_model']['model_id']} fine-tuned for Kubernetes YAML ({config['method']})",
        "",
        "Trained with `kubebench train` (TRL SFTTrainer + PEFT).",
        "",
        "## Use",
        "",
    ]
    if "model_id_adapter" in exported:
        lines.append(f'- adapter: `kubebench run --model "{exported["model_id_adapter"]}"`')
    if "model_id_merged" in exported:
        lines.append(f'- merged: `kubebench run --model "{exported["model_id_merged"]}"`')
    lines += [
        "",
        "## Data",
        "",
        f"- {record['dataset']['summary']}",
        f"- dataset card sha256 `{record['dataset']['card_sha256']}` ({record['dataset']['path']})",
        f"- loss on the answer only: {mask.get('mechanism', '?')}; "
        f"{mask.get('supervised_tokens', '?')} of {mask.get('total_tokens', '?')} tokens "
        "carry loss",
        "",
        "## Hyperparameters",
        "",
        "```json",
        json.dumps(hyper, indent=2),
        "```",
        "",
        "## Hardware and time",
        "",
        f"- {hw.get('device')} ({hw.get('gpu') or hw.get('cpu')}, {hw.get('cpu_count')} CPUs, "
        f"{hw.get('torch_threads')} torch threads), {record.get('dtype')}"
        + (f" weights, {record['autocast']} autocast" if record.get("autocast") else ""),
        f"- {seconds:.0f} s of training in {len(segments)} segment(s)"
        + (f", {speeds[-1]:.0f} tokens/s" if speeds else ""),
        f"- versions: {', '.join(f'{k} {v}' for k, v in record.get('packages', {}).items())}; "
        f"kubebench {record.get('kubebench_version')} at {record.get('git_revision')}",
        "",
        "## Loss",
        "",
        *_loss_lines(run),
        "",
        "## Benchmark (base vs tuned)",
        "",
        *_benchmark_lines(run, record),
        "",
    ]
    return "\n".join(lines)


def write_model_card(run: RunDir) -> None:
    text = render_model_card(run, run.read_record())
    run.card.write_text(text, encoding="utf-8")
    for folder in (run.adapter, run.merged):
        if folder.is_dir():
            shutil.copy2(run.card, folder / "README.md")
