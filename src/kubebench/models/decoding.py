"""Batched decoding for full-attention models: prefill each prompt alone, decode together.

Why not `model.generate()` on a left-padded batch: on a CPU, prefill is compute-bound, so
padding every prompt to the longest one wastes work that batching never wins back, and
transformers' dynamic cache copies itself at every step. Here each prompt is prefilled
at its own length, starting from the keys and values of the prompt before it where the
two share a prefix (`PromptPrefix`); the rows are then laid side by side, left-padded, in
one preallocated cache (`GrowingLayer`) and decoded together, one token per row per step.
Finished rows leave the batch, so a long answer never makes short ones pay. Greedy, or
sampling with temperature and top-p from a seeded generator. Imports torch: import lazily.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from kubebench.models.base import Completion, GenerationConfig
from kubebench.models.kv_cache import (
    KV,
    ForwardKeywords,
    PromptPrefix,
    batch_cache,
    layers_kv,
)
from kubebench.models.local_loading import LoadedModel
from kubebench.models.local_tokens import answer_completion, eos_ids, stop_window

# Cache room reserved up front for the answer; a longer answer grows the buffers.
ANSWER_RESERVE = 256
# Finished rows are dropped from the batch (a copy of the cache) once they are this share
# of it; until then they ride along, which is cheaper than copying for every one.
COMPACT_SHARE = 0.25


def choose_tokens(
    logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """The next token of each row: argmax when greedy, else a top-p sample at temperature."""
    if config.temperature <= 0:
        return logits.argmax(dim=-1)
    scores = logits.float() / config.temperature
    if config.top_p < 1.0:
        ranked, order = scores.sort(dim=-1, descending=True)
        probs = ranked.softmax(dim=-1)
        # Keep the smallest set of top tokens whose probability reaches top_p (at least one).
        outside = probs.cumsum(dim=-1) - probs >= config.top_p
        ranked = ranked.masked_fill(outside, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(-1, order, ranked)
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def _prefill(
    loaded: LoadedModel, prompt: list[int], keywords: ForwardKeywords
) -> tuple[list[KV], torch.Tensor]:
    """One prompt's keys/values and next-token logits, reusing the kept prefix."""
    if loaded.prompt_prefix is None:
        loaded.prompt_prefix = PromptPrefix()
    prefix: PromptPrefix = loaded.prompt_prefix
    shared = prefix.shared_length(prompt)
    cache = prefix.start_cache(shared)
    device = loaded.model.device
    options: dict[str, Any] = {keywords.cache: cache, "use_cache": True}
    if keywords.logits_to_keep:
        options["logits_to_keep"] = 1
    output = loaded.model(
        input_ids=torch.tensor([prompt[shared:]], device=device),
        position_ids=torch.arange(shared, len(prompt), device=device).unsqueeze(0),
        **options,
    )
    kv = layers_kv(cache)
    prefix.keep(prompt, kv)
    return kv, output.logits[0, -1]


def decode_batch(
    loaded: LoadedModel, prompts: list[list[int]], config: GenerationConfig
) -> list[Completion]:
    """Generate one answer per prompt (token ids), batched; call with `loaded.lock` held."""
    model, tokenizer, device = loaded.model, loaded.tokenizer, loaded.model.device
    keywords = ForwardKeywords.of(model)
    eos = eos_ids(loaded)
    window = stop_window(config.stop)
    started = time.monotonic()

    prefilled = [_prefill(loaded, prompt, keywords) for prompt in prompts]
    cache, width = batch_cache([kv for kv, _ in prefilled], min(config.max_tokens, ANSWER_RESERVE))
    mask = torch.zeros(len(prompts), width + config.max_tokens, dtype=torch.long, device=device)
    for row, prompt in enumerate(prompts):
        mask[row, width - len(prompt) : width] = 1
    positions = torch.tensor([len(p) for p in prompts], device=device)
    logits = torch.stack([first for _, first in prefilled])
    del prefilled
    generator = None
    if config.temperature > 0 and config.seed is not None:
        generator = torch.Generator(device=device).manual_seed(config.seed)

    answers: list[list[int]] = [[] for _ in prompts]
    # The request each batch row answers; None once it has finished.
    rows: list[int | None] = list(range(len(prompts)))
    for step in range(config.max_tokens):
        tokens = choose_tokens(logits, config, generator)
        for row, (request, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):
            if request is None:
                continue
            answer = answers[request]
            answer.append(token)
            if (
                token in eos
                or len(answer) >= config.max_tokens
                or (window and _has_stop(tokenizer, answer[-window:], config.stop))
            ):
                rows[row] = None
        if all(request is None for request in rows):
            break
        if sum(request is None for request in rows) >= max(1, COMPACT_SHARE * len(rows)):
            kept = [row for row, request in enumerate(rows) if request is not None]
            index = torch.tensor(kept, device=device)
            for layer in cache.layers:
                layer.keep_rows(index)
            mask, positions, tokens = mask[index], positions[index], tokens[index]
            rows = [rows[row] for row in kept]
        mask[:, width + step] = 1
        output = model(
            input_ids=tokens.unsqueeze(1),
            attention_mask=mask[:, : width + step + 1],
            position_ids=positions.unsqueeze(1),
            use_cache=True,
            **{keywords.cache: cache},
        )
        logits = output.logits[:, -1]
        positions = positions + 1
    elapsed = time.monotonic() - started
    return [
        answer_completion(loaded, answer, prompt, config, eos, elapsed, len(prompts))
        for answer, prompt in zip(answers, prompts, strict=True)
    ]


def _has_stop(tokenizer: Any, tail: list[int], stop: tuple[str, ...]) -> bool:
    text = tokenizer.decode(tail, skip_special_tokens=True)
    return any(s in text for s in stop if s)
