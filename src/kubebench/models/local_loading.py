"""Load a local transformers model (folder, cached hub id or GGUF file) once per process.

Never downloads: `HF_HUB_OFFLINE=1` and `local_files_only=True` make a missing model a
clear `UserError` instead of a silent fetch. torch, transformers and peft are imported
here, inside functions, so that importing kubebench stays light.
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from kubebench.errors import UserError

Dtype = Literal["auto", "float32", "float16", "bfloat16"]
Device = str  # "auto", "cpu", "cuda", "cuda:1", ...


@dataclass(frozen=True)
class LocalModelSpec:
    """Everything that decides which weights are loaded, and how."""

    source: str  # a folder, or a hub id already in the local Hugging Face cache
    gguf_file: str | None = None  # a file inside `source` to dequantize (GGUF)
    adapter: str | None = None  # a PEFT/LoRA adapter folder
    dtype: Dtype = "auto"
    device: Device = "auto"
    load_in_4bit: bool = False


@dataclass
class LoadedModel:
    """A model and tokenizer ready to generate, plus what identifies them."""

    spec: LocalModelSpec
    model: Any  # transformers PreTrainedModel (or a PeftModel)
    tokenizer: Any
    device: str
    dtype: str
    load_s: float
    identity: dict[str, object]
    # generate() calls on one model never overlap, whichever provider asks.
    lock: threading.Lock = field(default_factory=threading.Lock)
    # ...and run on one long-lived thread: torch's OpenMP pool belongs to the calling
    # thread, and hopping between asyncio's executor threads halved CPU decoding speed.
    worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="kubebench-generate")
    )
    # Set by local_generation on first use: whether decoding.decode_batch can run this
    # model, and the kv_cache.PromptPrefix it reuses (both guarded by `lock`).
    growing_cache: bool | None = None
    prompt_prefix: Any = None
    # Where the weights came from: "source", or for a GGUF file "gguf" (converted now)
    # or "cache" (a conversion saved by an earlier load; see gguf_cache).
    weights_from: str = "source"


_cache: dict[LocalModelSpec, LoadedModel] = {}
_cache_lock = threading.Lock()


def forbid_hub_downloads() -> None:
    """Make huggingface_hub refuse network access for the rest of the process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def require_torch() -> Any:
    """Import torch, or explain which extra installs it."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"local models need torch and transformers ({exc.name} is missing)",
            hint="pip install 'kubebench[hf]'",
        ) from None
    return torch


def resolve_device(device: Device) -> str:
    torch = require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but torch sees no CUDA device")
    return device


def resolve_dtype(dtype: Dtype, device: str) -> str:
    # bfloat16 halves memory traffic on GPUs; on CPUs without bf16 units it is slower.
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return dtype


def fingerprint(path: Path) -> str:
    """A cheap content identity of a file or folder: names, sizes and modification times."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}".encode())
        digest.update(f":{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def load_local_model(spec: LocalModelSpec) -> LoadedModel:
    """The model for `spec`, loaded on first use and shared by every later caller."""
    device = resolve_device(spec.device)
    spec = replace(spec, device=device, dtype=resolve_dtype(spec.dtype, device))  # type: ignore[arg-type]
    with _cache_lock:
        if spec not in _cache:
            _cache[spec] = _load(spec)
        return _cache[spec]


def release_local_models() -> int:
    """Forget every loaded model, so that its memory goes once no provider holds it; how
    many were released. For a process that grades one model after another."""
    with _cache_lock:
        released = len(_cache)
        _cache.clear()
    gc.collect()
    return released


@contextmanager
def quiet_gguf_progress() -> Iterator[None]:
    """Silence transformers' "Converting and de-quantizing GGUF tensors" bar.

    transformers draws it with `tqdm.auto` directly, which `disable_progress_bar()` does
    not reach: left alone it spills into logs and redirected output, between our lines.
    """
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # no gguf support installed: nothing to silence
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    if original is None:
        yield
        return

    def silent(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, "disable": True})

    gguf_utils.tqdm = silent
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def _load(spec: LocalModelSpec) -> LoadedModel:
    import time

    forbid_hub_downloads()
    torch = require_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the CLI shows its own status while loading

    started = time.monotonic()
    if spec.source.startswith(("/", ".", "~")) and not Path(spec.source).expanduser().exists():
        raise UserError(
            f"no model folder at {spec.source}",
            hint="pass a folder saved by save_pretrained(), or a hub id already in the "
            "Hugging Face cache; KubeBench never downloads weights",
        )
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": getattr(torch, dtype)}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    if spec.load_in_4bit:
        kwargs["quantization_config"] = four_bit_config(device, dtype)
        kwargs["device_map"] = {"": device}
    try:
        tokenizer_source = spec.source
        if spec.adapter and _has_tokenizer(Path(spec.adapter)):
            tokenizer_source = spec.adapter  # adapters that add tokens ship their tokenizer
        weights_from = "source"
        if spec.gguf_file:
            tokenizer, model, weights_from = _load_gguf(spec, kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(spec.source, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(spec.source, **kwargs)
        if tokenizer_source != spec.source:
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot load model {spec.source!r}: {' '.join(str(exc).split())[:300]}",
            hint="pass a local folder, or a hub id already in the Hugging Face cache; "
            "KubeBench never downloads weights",
        ) from None
    if spec.adapter:
        model = _with_adapter(model, spec)
    if not spec.load_in_4bit:
        model = model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    identity: dict[str, object] = {
        "source": spec.source,
        "model_type": getattr(model.config, "model_type", None),
        "dtype": dtype,
        "load_in_4bit": spec.load_in_4bit,
    }
    source_path = Path(spec.source)
    if source_path.exists():
        target = source_path / spec.gguf_file if spec.gguf_file else source_path
        identity["weights"] = fingerprint(target)
    else:
        identity["revision"] = getattr(model.config, "_commit_hash", None)
    if spec.gguf_file:
        identity["gguf_file"] = spec.gguf_file
    if spec.adapter:
        identity["adapter"] = str(Path(spec.adapter).resolve())
        identity["adapter_weights"] = fingerprint(Path(spec.adapter))
    return LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        load_s=time.monotonic() - started,
        identity=identity,
        weights_from=weights_from,
    )


def _load_gguf(spec: LocalModelSpec, kwargs: dict[str, Any]) -> tuple[Any, Any, str]:
    """Tokenizer and model from a GGUF file, through the converted-weights cache:
    (tokenizer, model, "cache") when it had them, else (..., "gguf") after converting."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kubebench.models import gguf_cache

    assert spec.gguf_file
    cacheable = not spec.load_in_4bit
    folder = gguf_cache.converted_folder(Path(spec.source) / spec.gguf_file, spec.dtype)
    if cacheable and (found := gguf_cache.load_converted(folder, kwargs["dtype"])):
        return (*found, "cache")
    with quiet_gguf_progress():
        tokenizer = AutoTokenizer.from_pretrained(
            spec.source, local_files_only=True, gguf_file=spec.gguf_file
        )
        model = AutoModelForCausalLM.from_pretrained(spec.source, **kwargs)
    if cacheable:
        gguf_cache.store_converted(folder, tokenizer, model)
    return tokenizer, model, "gguf"


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer_config.json").is_file()


def _with_adapter(model: Any, spec: LocalModelSpec) -> Any:
    try:
        from peft import PeftModel
    except ImportError:
        raise UserError("adapter= needs peft", hint="pip install 'kubebench[hf]'") from None
    adapter = Path(spec.adapter or "")
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(
            f"{adapter} is not a PEFT adapter folder (no adapter_config.json)",
            hint="pass the folder written by save_pretrained() of a PEFT model",
        )
    model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    if spec.load_in_4bit:
        return model  # merging into 4-bit weights would round the adapter away
    return model.merge_and_unload()  # one matmul per layer again: faster generation


def four_bit_config(
    device: str, dtype: str, *, double_quant: bool = False, what: str = "load_in_4bit"
) -> Any:
    """bitsandbytes 4-bit NF4 weights (CUDA only), computing in `dtype` (bfloat16 for
    float32); `double_quant` quantises the quantisation constants too (QLoRA)."""
    if not device.startswith("cuda"):
        raise UserError(f"{what} needs a CUDA device", hint="drop load_in_4bit on CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs bitsandbytes", hint="pip install bitsandbytes") from None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=double_quant,
        bnb_4bit_compute_dtype=getattr(torch, dtype if dtype != "float32" else "bfloat16"),
    )
