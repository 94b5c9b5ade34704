"""Continuously batched generation for local models (the hf and embedded providers).

Every `complete()` or `stream()` call becomes a row of one running batch, decoded on the
model's own generation thread so that the event loop keeps serving while the CPU or GPU
works: a request joins at the next decoding step (up to `max_batch_size` rows), and
leaves, freeing its slot, the step it finishes (see `decoding.RunningBatch`). When the
batch is idle, the first request waits `window_s` for company, so that requests sent
together are prefilled together. Models whose cache the decoding loop cannot hold
(sliding windows, linear attention) go through transformers' `generate()` instead, one
left-padded batch of same-config requests at a time, their answers in one chunk each.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from kubebench import defaults
from kubebench.errors import InfrastructureError
from kubebench.models.base import ChatMessage, Completion, CompletionChunk, GenerationConfig
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
    `config.seed` when given (each row from its own generator on the decoding loop; one
    generator for the batch on `generate()`). Models
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


class BatchingGenerator:
    """Turns concurrent calls into rows of one continuously batched decoding loop."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_batch_size: int,
        window_s: float,
        prefill_tokens: int = defaults.HF_PREFILL_TOKENS_PER_STEP,
    ) -> None:
        self.loaded = loaded
        self.max_batch_size = max_batch_size
        self.window_s = window_s
        self.prefill_tokens = prefill_tokens
        # Live rows right after each join (one entry per step that admitted requests).
        self.batch_sizes: list[int] = []
        self._pending: deque[Any] = deque()  # decoding.Row, waiting to join
        self._active: list[Any] = []  # rows admitted and not finished (for aclose)
        self._lock = threading.Condition()
        self._running = False

    async def complete(self, messages: list[ChatMessage], config: GenerationConfig) -> Completion:
        """Queue one request and wait for its answer."""
        async for chunk in self._rows(messages, config, stream=False):
            if chunk.completion is not None:
                return chunk.completion
        raise InfrastructureError("local generation ended without an answer")

    async def stream(
        self, messages: list[ChatMessage], config: GenerationConfig
    ) -> AsyncIterator[CompletionChunk]:
        """Text deltas as they are decoded; the last chunk carries the `Completion`."""
        async for chunk in self._rows(messages, config, stream=True):
            yield chunk

    async def _rows(
        self, messages: list[ChatMessage], config: GenerationConfig, *, stream: bool
    ) -> AsyncIterator[CompletionChunk]:
        from kubebench.models.decoding import Row

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[CompletionChunk | BaseException] = asyncio.Queue()

        def sink(event: CompletionChunk | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, event)
            except RuntimeError:  # the caller's event loop is gone: nobody is listening
                row.cancelled = True

        row = Row(render_chat(self.loaded, messages), config, sink=sink, stream=stream)
        self._submit(row)
        try:
            while True:
                event = await queue.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if event.completion is not None:
                    return
        finally:
            row.cancelled = True  # a consumer that stopped listening frees its slot

    def _submit(self, row: Any) -> None:
        with self._lock:
            self._pending.append(row)
            self._lock.notify()
            if not self._running:
                self._running = True
                self.loaded.worker.submit(self._serve)

    async def aclose(self) -> None:
        """Cancel every request still waiting or being decoded."""
        with self._lock:
            rows = [*self._pending, *self._active]
            self._pending.clear()
        for row in rows:
            if not row.finished:
                row.cancelled = True
                if row.sink is not None:
                    row.sink(asyncio.CancelledError())

    def _serve(self) -> None:
        """The decoding loop, on the model's generation thread, until no work is left."""
        import torch

        try:
            with self.loaded.lock, torch.inference_mode():
                if self.loaded.growing_cache is None:
                    self.loaded.growing_cache = _supports_growing_cache(self.loaded.model)
                if self.loaded.growing_cache:
                    self._decode_continuously()
                else:
                    self._generate_in_batches()
        except Exception as exc:
            failure = InfrastructureError(
                f"local generation failed: {type(exc).__name__}: {exc}",
                hint="lower max_batch_size= or max_tokens if memory ran out",
            )
            with self._lock:
                rows = [*self._pending, *self._active]
                self._pending.clear()
                self._active = []
                self._running = False
            for row in rows:
                if not row.finished and row.sink is not None:
                    row.sink(failure)

    def _wait_for_company(self) -> None:
        """Called with `_lock` held: give concurrent callers until the oldest waiting
        request's window closes to join it."""
        deadline = self._pending[0].enqueued + self.window_s
        while len(self._pending) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._lock.wait(remaining)

    def _next_work(self, free: int, idle: bool, budget: int | None = None) -> list[Any] | None:
        """Up to `free` waiting rows to admit, their prompts within `budget` tokens (the
        first one whatever its length); None when idle and nothing waits (the loop ends,
        atomically with a later `_submit` starting a new one)."""
        with self._lock:
            while self._pending and self._pending[0].cancelled:
                self._pending.popleft()
            if not self._pending:
                if idle:
                    self._running = False
                    return None
                return []
            if idle:
                self._wait_for_company()
            taken: list[Any] = []
            spent = 0
            while self._pending and len(taken) < free:
                row = self._pending[0]
                if taken and budget is not None and spent + len(row.prompt) > budget:
                    break
                self._pending.popleft()
                if not row.cancelled:
                    taken.append(row)
                    spent += len(row.prompt)
            return taken

    def _decode_continuously(self) -> None:
        from kubebench.models.decoding import RunningBatch

        batch = RunningBatch(self.loaded, self.max_batch_size)
        while True:
            joining = self._next_work(
                batch.free_slots(), idle=not batch.rows, budget=self.prefill_tokens
            )
            if joining is None:
                return
            self._active = [*(row for row in batch.rows if not row.finished), *joining]
            if joining:
                batch.admit(joining)
                self.batch_sizes.append(batch.live)
            batch.step()

    def _generate_in_batches(self) -> None:
        while True:
            taken = self._next_work(self.max_batch_size, idle=True)
            if taken is None:
                return
            # Same config only (generate() takes one); the rest go back to wait their turn.
            group = [row for row in taken if row.config == taken[0].config]
            with self._lock:
                self._pending.extendleft(reversed([r for r in taken if r not in group]))
            group.sort(key=lambda row: len(row.prompt))
            self.batch_sizes.append(len(group))
            self._active = group
            results = _generate_padded(self.loaded, [r.prompt for r in group], group[0].config)
            for row, result in zip(group, results, strict=True):
                result.latency_s = time.monotonic() - row.enqueued
                row.completion = result
                if row.sink is not None and not row.cancelled:
                    row.sink(CompletionChunk(text=result.text, completion=result))
