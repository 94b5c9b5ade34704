"""`hf:<folder or hub id>`: a local transformers model, optionally with a PEFT adapter.

Loads once per process (see `local_loading`), uses the model's chat template, and
answers concurrent calls as rows of one continuously batched decoding loop, and can stream
them (see `local_generation`).
CUDA when present, else CPU. Never downloads weights: a hub id must already be in the
local Hugging Face cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.models.base import ChatMessage, Completion, CompletionChunk, GenerationConfig
from kubebench.models.local_generation import BatchingGenerator
from kubebench.models.local_loading import LoadedModel, LocalModelSpec, load_local_model
from kubebench.models.options import ProviderHelp, parse_options
from kubebench.tasks.schema import Task


class LocalModelOptions(BaseModel):
    """Options of `hf:` and `embedded:` (strings from a model id are coerced)."""

    model_config = ConfigDict(extra="forbid")

    adapter: str | None = None
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    device: str = "auto"
    load_in_4bit: bool = False
    max_batch_size: int = Field(defaults.HF_MAX_BATCH_SIZE, ge=1)
    batch_window_s: float = Field(defaults.HF_BATCH_WINDOW_S, ge=0)
    prefill_tokens: int = Field(defaults.HF_PREFILL_TOKENS_PER_STEP, ge=1)


LOCAL_OPTIONS_HELP = (
    ("adapter", "folder of a PEFT/LoRA adapter to apply (merged unless 4-bit)"),
    ("dtype", "auto (bfloat16 on CUDA, float32 on CPU) | float32 | float16 | bfloat16"),
    ("device", "auto (CUDA when present) | cpu | cuda | cuda:N"),
    ("load_in_4bit", "true: 4-bit NF4 weights through bitsandbytes (CUDA only)"),
    ("max_batch_size", f"prompts generated together (default {defaults.HF_MAX_BATCH_SIZE})"),
    ("batch_window_s", f"wait for a batch to fill (default {defaults.HF_BATCH_WINDOW_S:g})"),
    (
        "prefill_tokens",
        "prompt tokens prefilled between decoding steps "
        f"(default {defaults.HF_PREFILL_TOKENS_PER_STEP})",
    ),
)


class HFProvider:
    """A local transformers model (folder or cached hub id), with an optional PEFT adapter."""

    PROVIDER_HELP: ClassVar[ProviderHelp] = ProviderHelp(
        summary="A local transformers model by folder or cached hub id, optionally with a "
        "PEFT/LoRA adapter; batched generation on CUDA or CPU.",
        id_syntax="hf:<folder or hub id>[?adapter=FOLDER&dtype=bfloat16&...]",
        options=LOCAL_OPTIONS_HELP,
        environment=(
            ("HF_HOME / HF_HUB_CACHE", "where cached hub ids are looked up (never downloaded)"),
        ),
        examples=(
            "hf:./models/qwen2.5-0.5b-instruct",
            "hf:./models/base?adapter=./runs/lora-k8s",
            "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct?load_in_4bit=true",
        ),
    )
    provider_name: ClassVar[str] = "hf"

    def __init__(self, name: str, **options: object) -> None:
        if not name:
            raise UserError("the hf provider needs a model", hint="e.g. --model hf:./my-model")
        opts = parse_options(LocalModelOptions, options, self.provider_name)
        spec = LocalModelSpec(
            source=name,
            adapter=opts.adapter,
            dtype=opts.dtype,
            device=opts.device,
            load_in_4bit=opts.load_in_4bit,
        )
        self._start(f"{self.provider_name}:{name}", load_local_model(spec), opts)

    @classmethod
    def from_loaded(
        cls,
        loaded: LoadedModel,
        *,
        max_batch_size: int = defaults.HF_MAX_BATCH_SIZE,
        batch_window_s: float = defaults.HF_BATCH_WINDOW_S,
        prefill_tokens: int = defaults.HF_PREFILL_TOKENS_PER_STEP,
    ) -> HFProvider:
        """A provider over an already loaded model (benchmarks, tests)."""
        provider = cls.__new__(cls)
        opts = LocalModelOptions(
            max_batch_size=max_batch_size,
            batch_window_s=batch_window_s,
            prefill_tokens=prefill_tokens,
        )
        provider._start(f"{cls.provider_name}:{loaded.spec.source}", loaded, opts)
        return provider

    def _start(self, model_id: str, loaded: LoadedModel, opts: LocalModelOptions) -> None:
        self.model_id = model_id
        self.loaded = loaded
        self.generator = BatchingGenerator(
            loaded,
            max_batch_size=opts.max_batch_size,
            window_s=opts.batch_window_s,
            prefill_tokens=opts.prefill_tokens,
        )

    async def complete(
        self,
        messages: list[ChatMessage],
        config: GenerationConfig,
        *,
        task: Task | None = None,
    ) -> Completion:
        """Answer `messages`; concurrent calls are decoded together (continuous batching)."""
        return await self.generator.complete(messages, config)

    async def stream(
        self, messages: list[ChatMessage], config: GenerationConfig
    ) -> AsyncIterator[CompletionChunk]:
        """The answer as text deltas while it is decoded; the last chunk carries the
        `Completion` (its text is the deltas joined). Stop strings never show, not even
        in part: text that could begin one is held back until it cannot."""
        async for chunk in self.generator.stream(messages, config):
            yield chunk

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider_name,
            **self.loaded.identity,
            "device": self.loaded.device,
        }

    async def aclose(self) -> None:
        await self.generator.aclose()
