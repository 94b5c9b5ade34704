"""The training config: a YAML file plus `key=value` overrides, validated by pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kubebench import defaults
from kubebench.errors import UserError

Method = Literal["lora", "qlora", "full"]


class LoraSettings(BaseModel):
    """The adapter of `lora` and `qlora`."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(defaults.TRAIN_LORA_R, ge=1)
    alpha: int = Field(defaults.TRAIN_LORA_ALPHA, ge=1)
    dropout: float = Field(defaults.TRAIN_LORA_DROPOUT, ge=0, lt=1)
    # "all-linear" (PEFT: every linear layer but the output head) or module names.
    target_modules: str | list[str] = defaults.TRAIN_LORA_TARGETS


class TrainConfig(BaseModel):
    """Everything that decides a fine-tuning run; saved with it as `config.yaml`."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = defaults.DEFAULT_MODEL  # embedded:NAME or hf:FOLDER
    dataset: Path  # a folder written by `kubebench data build` (train.jsonl, validation.jsonl)
    method: Method = defaults.TRAIN_METHOD  # type: ignore[assignment]
    lora: LoraSettings = Field(default_factory=LoraSettings)
    max_length: int = Field(defaults.TRAIN_MAX_LENGTH, ge=8)
    epochs: float = Field(defaults.TRAIN_EPOCHS, gt=0)
    max_steps: int | None = Field(None, ge=1)  # overrides epochs when set
    learning_rate: float = Field(defaults.TRAIN_LEARNING_RATE, gt=0)
    lr_scheduler: str = defaults.TRAIN_LR_SCHEDULER  # any transformers SchedulerType
    warmup: float = Field(defaults.TRAIN_WARMUP, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    batch_size: int = Field(defaults.TRAIN_BATCH_SIZE, ge=1)
    grad_accumulation: int = Field(defaults.TRAIN_GRAD_ACCUMULATION, ge=1)
    seed: int = defaults.TRAIN_SEED
    eval_steps: int = Field(defaults.TRAIN_EVAL_STEPS, ge=1)  # validation loss every N steps
    save_steps: int | None = Field(None, ge=1)  # a checkpoint every N steps (eval_steps)
    save_total_limit: int | None = Field(None, ge=1)  # None keeps every checkpoint
    logging_steps: int = Field(defaults.TRAIN_LOGGING_STEPS, ge=1)
    gradient_checkpointing: bool = False  # saves memory, costs ~20 % time
    # On CPU: float32 weights, bfloat16 matmuls (torch autocast). CUDA already trains in
    # bfloat16 where the GPU supports it.
    cpu_bf16: bool = False
    # Batches of examples of similar length (transformers' LengthGroupedSampler): less padding.
    group_by_length: bool = False
    max_train_examples: int | None = Field(None, ge=1)
    max_eval_examples: int | None = Field(None, ge=1)
    # Only training examples whose objects are all of these kinds (docs dropped).
    kinds: list[str] = Field(default_factory=list)
    # Only training examples whose objects state their namespace (namespaced kinds) and
    # hold more than a name, as every benchmark request's objects do.
    complete_objects: bool = False
    # Benchmark splits added to the training examples as prompt → reference (only "dev";
    # the test split is refused). The dev split then cannot choose a checkpoint fairly.
    extra_tasks: list[str] = Field(default_factory=list)
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    export_merged: bool = True  # also write the adapter merged into the base weights

    @model_validator(mode="after")
    def _checks(self) -> TrainConfig:
        for split in self.extra_tasks:
            if split != defaults.TRAIN_EXTRA_TASK_SPLIT:
                raise ValueError(
                    f"extra_tasks may only name the {defaults.TRAIN_EXTRA_TASK_SPLIT!r} split, "
                    f"not {split!r}: training on the test split would leak it"
                )
        if self.lr_scheduler not in _scheduler_names():
            raise ValueError(
                f"lr_scheduler {self.lr_scheduler!r} is not one of {', '.join(_scheduler_names())}"
            )
        return self

    @property
    def checkpoint_every(self) -> int:
        return self.save_steps or self.eval_steps


def _scheduler_names() -> list[str]:
    try:
        from transformers import SchedulerType
    except ImportError:  # validated again when training starts
        return ["linear", "cosine", "constant", "constant_with_warmup"]
    return [s.value for s in SchedulerType]


def parse_override(text: str) -> tuple[list[str], Any]:
    """`lora.r=32` → (["lora", "r"], 32); the value is read as a YAML scalar."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"override {text!r} is not KEY=VALUE", hint="e.g. lora.r=32 max_steps=200")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(f"override {text!r}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return data


def load_config(
    path: Path, overrides: list[str] | None = None, *, base_dir: Path | None = None
) -> TrainConfig:
    """Read `path`, apply `overrides`, validate; a relative dataset is read from the
    config file's folder (or `base_dir`)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UserError(f"cannot read training config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of settings")
    return config_from_dict(
        apply_overrides(data, list(overrides or [])), base_dir or Path(path).parent
    )


def config_from_dict(data: dict[str, Any], base_dir: Path) -> TrainConfig:
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise UserError(
            f"training config: {where}: {first['msg']}",
            hint=f"{len(exc.errors())} problem(s); see docs/train.md for every setting",
        ) from None
    if not config.dataset.is_absolute():
        config = config.model_copy(update={"dataset": (base_dir / config.dataset).resolve()})
    return config


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
