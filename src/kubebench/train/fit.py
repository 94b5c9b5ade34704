"""`kubebench train`: supervised fine-tuning with TRL's SFTTrainer and PEFT.

The loss covers the assistant's answer only. The data is conversational
prompt-completion (see `dataset`), so TRL's `completion_only_loss` sets the prompt's
labels to -100 through the tokenized prompt prefix, with any chat template. The labels
are counted before training starts: a run whose answers are all masked (or cut off by
`max_length`) stops with an error instead of training on nothing.
"""

from __future__ import annotations

import os
import platform
import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import kubebench
from kubebench.errors import UserError
from kubebench.runner.provenance import git_revision, python_version
from kubebench.train.base_model import (
    BaseModelSource,
    load_base_model,
    load_tokenizer,
    resolve_base_model,
    training_device,
    training_dtype,
)
from kubebench.train.config import TrainConfig, dump_config, load_config
from kubebench.train.dataset import ChatSplits, load_chat_splits
from kubebench.train.run_dir import RunDir, truncate_metrics

TRAIN_PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "bitsandbytes",
    "gguf",
)
LOSS_MASK_MECHANISM = (
    "conversational prompt-completion + completion_only_loss: the prompt's tokens "
    "(system and user turns and the assistant header) get label -100"
)

# progress(step, total_steps, fields): called after every optimizer step.
ProgressFn = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainResult:
    run_dir: RunDir
    global_step: int
    resumed_from: str | None
    seconds: float
    tokens_per_s: float | None
    peak_rss_mib: float
    peak_cuda_mib: float | None
    exported: list[Path] = field(default_factory=list)


def package_versions() -> dict[str, str]:
    found = {}
    for name in TRAIN_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def require_trl() -> None:
    try:
        import datasets  # noqa: F401
        import peft  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"kubebench train needs {exc.name}", hint="pip install 'kubebench[hf,train]'"
        ) from None


def quiet_libraries() -> None:
    """No library progress bars or per-log prints: the CLI shows its own progress."""
    import datasets
    from transformers.utils import logging as hf_logging

    # transformers 5 deprecation noise from inside peft/trl, nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*")
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hardware(device: str) -> dict[str, object]:
    import torch

    info: dict[str, object] = {
        "device": device,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _callbacks(run: RunDir, progress: ProgressFn | None) -> list[Any]:
    import json

    from transformers import TrainerCallback

    class MetricsLog(TrainerCallback):
        """Appends every trainer log, with its step, to metrics.jsonl (flushed per line)."""

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if not logs:
                return
            row = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
            with run.metrics.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row, default=float) + "\n")

    class StepProgress(TrainerCallback):
        def __init__(self) -> None:
            self.last: dict[str, float] = {}

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            for key in ("loss", "eval_loss"):
                if logs and key in logs:
                    self.last[key] = float(logs[key])

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            if progress is not None:
                progress(state.global_step, state.max_steps, dict(self.last))

    return [MetricsLog(), StepProgress()]


def autocast_bf16(config: TrainConfig, device: str) -> bool:
    """Float32 weights with bfloat16 autocast: `cpu_bf16` on a CPU run."""
    return config.cpu_bf16 and device == "cpu"


def sft_config(config: TrainConfig, run: RunDir, device: str, dtype: str) -> Any:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(run.checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.checkpoint_every,
        save_total_limit=config.save_total_limit,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        report_to="none",
        disable_tqdm=True,
        bf16=dtype == "bfloat16" or autocast_bf16(config, device),
        fp16=False,
        use_cpu=device == "cpu",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        # transformers 5 renamed it; TRL's default (True) sits on the old name.
        activation_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing=config.gradient_checkpointing,
        max_length=config.max_length,
        packing=False,
        completion_only_loss=True,
        assistant_only_loss=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
    )


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def loss_mask_stats(dataset: Any, tokenizer: Any, examples_in: int) -> dict[str, object]:
    """Count the tokens that carry loss; refuse a run where none do."""
    supervised = total = 0
    preview = ""
    for row in dataset:
        labels = row["labels"]
        total += len(labels)
        kept = [t for t in labels if t != -100]
        supervised += len(kept)
        if not preview and kept:
            preview = tokenizer.decode(kept)[:160]
    if supervised == 0:
        raise UserError(
            "no token of any answer carries loss (all labels are masked)",
            hint="raise max_length, or check that the data ends with the assistant's answer",
        )
    return {
        "mechanism": LOSS_MASK_MECHANISM,
        "examples": len(dataset),
        "dropped_fully_masked": examples_in - len(dataset),
        "supervised_tokens": supervised,
        "total_tokens": total,
        "supervised_fraction": round(supervised / total, 4),
        "first_supervised_text": preview,
    }


def new_record(
    config: TrainConfig, source: BaseModelSource, splits: ChatSplits, device: str, dtype: str
) -> dict[str, Any]:
    return {
        "kind": "kubebench-train-run",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "kubebench_version": kubebench.__version__,
        "git_revision": git_revision(),
        "python": python_version(),
        "packages": package_versions(),
        "config": config.model_dump(mode="json"),
        "base_model": {
            "model_id": source.model_id,
            "folder": source.folder,
            "gguf_file": source.gguf_file,
        },
        "dataset": {
            "path": str(config.dataset),
            "card_sha256": splits.card_sha256,
            "summary": splits.card_summary,
            "train_examples": len(splits.train),
            "validation_examples": len(splits.validation),
            "task_examples": splits.task_examples,
        },
        "hardware": hardware(device),
        "dtype": dtype,
        "autocast": "bfloat16" if autocast_bf16(config, device) else None,
        "segments": [],
    }


def prepare_run_dir(config: TrainConfig, run_dir: Path, *, resume: bool) -> RunDir:
    run = RunDir(run_dir)
    if resume:
        if not run.config.is_file():
            raise UserError(f"--resume: {run_dir} holds no training run (no config.yaml)")
        saved = load_config(run.config)
        if saved.model_dump() != config.model_dump():
            changed = sorted(
                k for k, v in config.model_dump().items() if saved.model_dump().get(k) != v
            )
            raise UserError(
                f"--resume: the config differs from the run's own ({', '.join(changed)})",
                hint=f"resume with the saved config: kubebench train --resume {run_dir}",
            )
        return run
    if run.root.exists() and any(run.root.iterdir()):
        raise UserError(
            f"{run_dir} already exists and is not empty",
            hint="pass --resume to continue it, or choose another --out",
        )
    run.root.mkdir(parents=True, exist_ok=True)
    run.config.write_text(dump_config(config), encoding="utf-8")
    return run


def train(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    progress: ProgressFn | None = None,
    callbacks: list[Any] | None = None,
    status: Callable[[str], None] | None = None,
) -> TrainResult:
    """Fine-tune `config.base_model` on `config.dataset` into `run_dir` (resumable)."""
    require_trl()
    say = status or (lambda _msg: None)
    source = resolve_base_model(config.base_model)
    device = training_device(config.device, config.method)
    dtype = training_dtype(device)
    splits = load_chat_splits(
        config.dataset,
        max_train=config.max_train_examples,
        max_eval=config.max_eval_examples,
        extra_tasks=config.extra_tasks,
        kinds=config.kinds,
        complete_objects=config.complete_objects,
        seed=config.seed,
    )
    run = prepare_run_dir(config, run_dir, resume=resume)
    checkpoints = run.checkpoint_steps() if resume else {}
    resume_step = max(checkpoints) if checkpoints else None
    record = run.read_record() if resume and run.record.is_file() else None
    record = record or new_record(config, source, splits, device, dtype)
    if record["dataset"]["card_sha256"] != splits.card_sha256:
        raise UserError(
            f"--resume: the dataset at {config.dataset} changed since the run started",
            hint="resume needs the same data; start a new run for new data",
        )

    import torch
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTTrainer

    quiet_libraries()
    set_seed(config.seed)
    autocast = " with bfloat16 autocast" if autocast_bf16(config, device) else ""
    say(f"loading {source.model_id} on {device} ({dtype}{autocast})")
    tokenizer = load_tokenizer(source)
    model = load_base_model(source, device=device, dtype=dtype, four_bit=config.method == "qlora")
    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    say("tokenizing the dataset")
    trainer = SFTTrainer(
        model=model,
        args=sft_config(config, run, device, dtype),
        train_dataset=Dataset.from_list(splits.train),
        eval_dataset=Dataset.from_list(splits.validation),
        processing_class=tokenizer,
        peft_config=None if config.method == "full" else lora_config(config),
        callbacks=[*_callbacks(run, progress), *(callbacks or [])],
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # metrics.jsonl and the progress bar say it
    record["loss_mask"] = loss_mask_stats(trainer.train_dataset, tokenizer, len(splits.train))
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    record["parameters"] = {
        "total": sum(p.numel() for p in trainer.model.parameters()),
        "trainable": trainable,
    }
    if resume_step is not None:
        dropped = truncate_metrics(run.metrics, resume_step)
        say(f"resuming from checkpoint-{resume_step} ({dropped} later log lines dropped)")
    elif resume:
        truncate_metrics(run.metrics, 0)
        say("no checkpoint saved yet: starting again from step 0")
    segment: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "resumed_from": f"checkpoint-{resume_step}" if resume_step is not None else None,
        "start_step": resume_step or 0,
        "finished": False,
    }
    record["segments"].append(segment)
    run.write_record(record)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    started = time.monotonic()
    tokens_before = None
    if resume_step is not None:
        import json

        state = json.loads((checkpoints[resume_step] / "trainer_state.json").read_text("utf-8"))
        tokens_before = state.get("num_input_tokens_seen")
    output = trainer.train(
        resume_from_checkpoint=str(checkpoints[resume_step]) if resume_step is not None else None
    )
    seconds = time.monotonic() - started
    tokens = trainer.state.num_input_tokens_seen - (tokens_before or 0)
    segment.update(
        finished=True,
        end_step=trainer.state.global_step,
        seconds=round(seconds, 2),
        train_runtime_s=output.metrics.get("train_runtime"),
        input_tokens=tokens,
        tokens_per_s=round(tokens / seconds, 1) if seconds and tokens else None,
        peak_rss_mib=round(peak_rss_mib(), 1),
        peak_cuda_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1)
        if device.startswith("cuda")
        else None,
    )
    run.write_record(record)

    from kubebench.train.export import export_final

    say("saving the adapter and the merged model")
    exported = export_final(trainer, tokenizer, config, source, run)
    record["exported"] = {p.name: str(p) for p in exported}
    if config.method != "full":
        record["exported"]["model_id_adapter"] = source.adapter_model_id(run.adapter)
    if run.merged.is_dir():
        record["exported"]["model_id_merged"] = f"hf:{run.merged}"
    run.write_record(record)
    from kubebench.train.model_card import write_model_card

    write_model_card(run)
    return TrainResult(
        run_dir=run,
        global_step=trainer.state.global_step,
        resumed_from=segment["resumed_from"],
        seconds=seconds,
        tokens_per_s=segment["tokens_per_s"],
        peak_rss_mib=segment["peak_rss_mib"],
        peak_cuda_mib=segment["peak_cuda_mib"],
        exported=exported,
    )
