"""Batched generation for local models (the hf and embedded providers share it).

Concurrent `complete()` calls are gathered for a few milliseconds into one batch (up to
`max_batch_size`, requests with the same generation config only), sorted by prompt
length and generated together (`generate_batch`) on the model's own generation thread,
so that the event loop keeps serving while the CPU or GPU works. One batch runs at a
time per model.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from kubebench.errors import InfrastructureError
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.models.local_loading import LoadedModel
from kubebench.models.local_tokens import answer_completion, eos_ids, stop_window


def render_chat(loaded: LoadedModel, messages: list[ChatMessage]) -> list[int]:
    """Token ids of `messages` through the model's chat template, ready for an answer.

    A tokenizer without a chat template (a base model) gets a plain
    `System:/User:/Assistant:` transcript instead.
    """
    tokenizer = loaded.tokenizer
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            tokenize=False,
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    turns = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    return list(tokenizer("\n\n".join([*turns, "Assistant:"]))["input_ids"])


def generate_batch(
    loaded: LoadedModel, prompts: list[list[int]], config: GenerationConfig
) -> list[Completion]:
    """Generate one answer per prompt (token ids), all in one batch.

    Greedy when `config.temperature == 0`; otherwise sampling with top-p, seeded by
    `config.seed` when given (the same seed and batch give the same answers). Models
    with a plain full-attention cache (Llama, Qwen, SmolLM, Phi, ...) go through
    `decoding.decode_batch`; others (sliding windows, linear attention) through
    transformers' `generate()` on a left-padded batch. CPU-bound: async code runs it on
    `loaded.worker`, the one thread that generates for this model.
    """
    import torch

    with loaded.lock, torch.inference_mode():
        if loaded.growing_cache is None:
            loaded.growing_cache = _supports_growing_cache(loaded.model)
        if loaded.growing_cache:
            from kubebench.models import decoding

            return decoding.decode_batch(loaded, prompts, config)
        return _generate_padded(loaded, prompts, config)


def _supports_growing_cache(model: Any) -> bool:
    try:
        from kubebench.models import kv_cache
    except ImportError:  # a transformers older than 5.0 (the hf extra asks for 5.0+)
        return False
    return kv_cache.supports_growing_cache(model)


def _stop_criteria(tokenizer: Any, stop: tuple[str, ...], prompt_width: int) -> Any:
    """Stop each row once its answer contains a stop string.

    transformers' own `stop_strings` needs tokenizers whose pieces decode on their own,
    which not all do; decoding each row's recent tokens works with any tokenizer.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    window = stop_window(stop)

    class StopOnStrings(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            tails = input_ids[:, prompt_width:][:, -window:]
            texts = tokenizer.batch_decode(tails, skip_special_tokens=True)
            hits = [any(s in text for s in stop if s) for text in texts]
            return torch.tensor(hits, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnStrings()])


def _generate_padded(
    loaded: LoadedModel, prompts: list[list[int]], config: GenerationConfig
) -> list[Completion]:
    """transformers' `generate()` on one left-padded batch (any causal LM)."""
    import torch
    from transformers import GenerationConfig as HFGenerationConfig

    tokenizer = loaded.tokenizer
    pad_id = tokenizer.pad_token_id
    eos = eos_ids(loaded)
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    sampling = config.temperature > 0
    options: dict[str, Any] = {
        "max_new_tokens": config.max_tokens,
        "do_sample": sampling,
        "pad_token_id": pad_id,
        "eos_token_id": sorted(eos) or None,
        "bos_token_id": loaded.model.generation_config.bos_token_id,
    }
    if sampling:
        options.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
    criteria = _stop_criteria(tokenizer, config.stop, width) if config.stop else None
    started = time.monotonic()
    if sampling and config.seed is not None:
        torch.manual_seed(config.seed)
    output = loaded.model.generate(
        input_ids=input_ids.to(loaded.model.device),
        attention_mask=attention.to(loaded.model.device),
        generation_config=HFGenerationConfig(**options),
        stopping_criteria=criteria,
    )
    elapsed = time.monotonic() - started
    completions = []
    for row, prompt in zip(output[:, width:].tolist(), prompts, strict=True):
        ended = next((i for i, token in enumerate(row) if token in eos), None)
        tokens = row[: ended + 1] if ended is not None else row
        while ended is None and tokens and tokens[-1] == pad_id:
            tokens = tokens[:-1]  # a row stopped by a stop string is padded after it
        completions.append(
            answer_completion(loaded, tokens, prompt, config, eos, elapsed, len(prompts))
        )
    return completions


@dataclass
class _Request:
    prompt: list[int]
    config: GenerationConfig
    future: asyncio.Future[Completion]
    enqueued: float


class BatchingGenerator:
    """Collects concurrent requests into length-sorted batches for `generate_batch`."""

    def __init__(self, loaded: LoadedModel, *, max_batch_size: int, window_s: float) -> None:
        self.loaded = loaded
        self.max_batch_size = max_batch_size
        self.window_s = window_s
        self.batch_sizes: list[int] = []  # of every batch generated, for tests and benches
        self._pending: list[_Request] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    async def complete(self, messages: list[ChatMessage], config: GenerationConfig) -> Completion:
        """Queue one request and wait for its answer."""
        self._bind_to_running_loop()
        assert self._loop is not None and self._wakeup is not None
        request = _Request(
            render_chat(self.loaded, messages),
            config,
            self._loop.create_future(),
            time.monotonic(),
        )
        self._pending.append(request)
        self._wakeup.set()
        completion = await request.future
        completion.latency_s = time.monotonic() - request.enqueued
        return completion

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for request in self._pending:
            if not request.future.done():
                request.future.cancel()
        self._pending.clear()

    def _bind_to_running_loop(self) -> None:
        # A provider may outlive one asyncio.run(); its queue lives in the current loop.
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._worker is not None and not self._worker.done():
            return
        self._loop = loop
        self._wakeup = asyncio.Event()
        self._pending = [r for r in self._pending if r.future.get_loop() is loop]
        self._worker = loop.create_task(self._serve())

    async def _serve(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._pending:
                continue
            await self._wait_for_company()
            batch = self._take_batch()
            if self._pending:
                self._wakeup.set()
            live = [r for r in batch if not r.future.done()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                results = await asyncio.get_running_loop().run_in_executor(
                    self.loaded.worker,
                    generate_batch,
                    self.loaded,
                    [r.prompt for r in live],
                    live[0].config,
                )
            except Exception as exc:
                failure = InfrastructureError(
                    f"local generation failed: {type(exc).__name__}: {exc}",
                    hint="lower max_batch_size= or max_tokens if memory ran out",
                )
                for request in live:
                    if not request.future.done():
                        request.future.set_exception(failure)
                continue
            for request, result in zip(live, results, strict=True):
                if not request.future.done():
                    request.future.set_result(result)

    async def _wait_for_company(self) -> None:
        """Give concurrent callers until the oldest request's window closes to join it."""
        assert self._wakeup is not None
        deadline = self._pending[0].enqueued + self.window_s
        while len(self._pending) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[_Request]:
        """The oldest request plus its nearest neighbours in prompt length, same config."""
        oldest = self._pending[0]
        group = sorted(
            (r for r in self._pending if r.config == oldest.config),
            key=lambda r: len(r.prompt),
        )
        at = group.index(oldest)
        size = self.max_batch_size
        start = min(max(0, at - size // 2), max(0, len(group) - size))
        batch = group[start : start + size]
        taken = {id(r) for r in batch}
        self._pending = [r for r in self._pending if id(r) not in taken]
        return batch
