"""GGUF files converted once: the dequantized weights and tokenizer kept as safetensors.

transformers reads a GGUF file by parsing its metadata three times (tokenizer, config,
weights) and dequantizing every tensor: 20–25 s for the embedded model on 2 cores. The
result is saved with `save_pretrained()` under the user cache
(`<cache_dir>/converted/<sha256 of the file>-<conversion key>`), and later loads read
that folder. The key holds KubeBench's conversion version, the transformers version
and the dtype, so that a change of any gives a new conversion. A folder is written
under a temporary name and renamed when complete; one that fails to load is removed
and rebuilt, with a one-line warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.settings import settings

log = logging.getLogger(__name__)

COMPLETE = "kubebench-conversion.txt"  # written last: the folder is whole


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def converted_folder(gguf: Path, dtype: str) -> Path:
    """Where the conversion of `gguf` at `dtype` lives (whether or not it exists yet)."""
    import transformers

    key = f"v{defaults.GGUF_CONVERSION_VERSION}-transformers{transformers.__version__}-{dtype}"
    return settings().cache_dir / "converted" / f"{file_sha256(gguf)[:32]}-{key}"


def load_converted(folder: Path, dtype: Any) -> tuple[Any, Any] | None:
    """(tokenizer, model) from a complete conversion folder; None when there is none or
    it is unreadable (then it is removed, with a warning)."""
    if not (folder / COMPLETE).is_file():
        return None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except Exception as exc:  # truncated or garbled files fail in many ways; all mean rebuild
        reason = " ".join(str(exc).split())[:160]
        log.warning(
            "kubebench: converted GGUF cache %s unreadable (%s: %s); rebuilding it",
            folder,
            type(exc).__name__,
            reason,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return tokenizer, model


def store_converted(folder: Path, tokenizer: Any, model: Any) -> None:
    """Save a fresh conversion; a failure to write (disk full, read-only) only warns."""
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        partial.mkdir(parents=True)
        _save_weights(partial, model)
        tokenizer.save_pretrained(partial)
        (partial / COMPLETE).write_text(f"{folder.name}\n")
        shutil.rmtree(folder, ignore_errors=True)  # a stale, incomplete one
        os.replace(partial, folder)
    except OSError as exc:
        log.warning("kubebench: cannot cache the converted GGUF in %s: %s", folder, exc)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _save_weights(folder: Path, model: Any) -> None:
    """Config, generation config and safetensors weights of a model read from GGUF.

    `save_pretrained()` refuses such a model (its quantizer marks it "not serializable"),
    though its weights are plain dequantized tensors: write them directly, and the
    config without the GGUF quantization entry.
    """
    import copy

    from safetensors.torch import save_model

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})
