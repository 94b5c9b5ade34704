"""Continuous batching for full-attention models: rows join and leave at every step.

Why not `model.generate()` on a left-padded batch: on a CPU, prefill is compute-bound, so
padding every prompt to the longest one wastes work that batching never wins back, and
transformers' dynamic cache copies itself at every step. Here each prompt is prefilled
at its own length, starting from the keys and values of the prompt before it where the
two share a prefix (`PromptPrefix`); the rows are laid side by side, left-padded, in one
preallocated cache (`GrowingLayer`) and decoded together, one token per row per step.

`RunningBatch` is the loop's state between steps: before each step, waiting requests
join (prefilled, their first token chosen and streamed at once, then merged into the
cache, up to `max_batch_size` rows); after it, rows that finished (end of sequence, a
stop string, `max_tokens`) report at once and free their slot. Each row samples with its
own settings (greedy, or temperature and top-p from its own seeded generator), so one
batch mixes generation configs. Imports torch: import lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.cache_utils import Cache

from kubebench.models.base import Completion, CompletionChunk, GenerationConfig
from kubebench.models.kv_cache import KV, ForwardKeywords, GrowingLayer, PromptPrefix, layers_kv
from kubebench.models.local_loading import LoadedModel
from kubebench.models.local_tokens import TextDeltas, answer_completion, eos_ids

# Cache room reserved for answers when rows join; a longer answer grows the buffers.
ANSWER_RESERVE = 256
# Finished rows are dropped from the batch (a copy of the cache) once they are this share
# of it, or when new rows join; until then they ride along, cheaper than a copy for each.
COMPACT_SHARE = 0.25

Sink = Callable[[CompletionChunk | BaseException], None]  # called on the decoding thread


@dataclass(eq=False)
class Row:
    """One request in (or waiting for) the running batch."""

    prompt: list[int]
    config: GenerationConfig
    sink: Sink | None = None  # receives text deltas (when `stream`) and the last chunk
    stream: bool = False
    enqueued: float = field(default_factory=time.monotonic)
    answer: list[int] = field(default_factory=list)
    completion: Completion | None = None
    cancelled: bool = False  # set from any thread: the row leaves at the next step
    peak_batch: int = 0
    generator: torch.Generator | None = None
    text: TextDeltas | None = None

    @property
    def finished(self) -> bool:
        return self.completion is not None or self.cancelled


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


class RunningBatch:
    """The rows being decoded together and their shared, left-padded cache.

    Every row's last cached position is column `length - 1`; row `i` starts (is unmasked
    from) column `starts[i]`. Call `step()` with `loaded.lock` held, on one thread.
    """

    def __init__(self, loaded: LoadedModel, max_batch_size: int) -> None:
        self.loaded = loaded
        self.max_batch_size = max_batch_size
        self.keywords = ForwardKeywords.of(loaded.model)
        self.eos = eos_ids(loaded)
        self.device = loaded.model.device
        self.rows: list[Row] = []
        self.starts: list[int] = []
        self.length = 0
        self.layers: list[GrowingLayer] = []
        self.cache: Cache | None = None
        self.mask: torch.Tensor | None = None
        self.tokens: torch.Tensor | None = None  # each row's chosen token, fed next step

    @property
    def live(self) -> int:
        return sum(not row.finished for row in self.rows)

    def free_slots(self) -> int:
        return self.max_batch_size - self.live

    def admit(self, joining: list[Row]) -> None:
        """Prefill `joining` one by one and merge them into the batch (drops finished rows)."""
        joining = [row for row in joining if not row.cancelled]
        for row in joining:
            if row.config.temperature > 0 and row.config.seed is not None:
                row.generator = torch.Generator(device=self.device).manual_seed(row.config.seed)
            if row.stream or row.config.stop:
                row.text = TextDeltas(self.loaded.tokenizer, row.config.stop)
        for row in [r for r in joining if r.config.max_tokens <= 0]:
            self._finish(row)
        joined: list[Row] = []
        kvs: list[list[KV]] = []
        first: list[int] = []
        for row in [r for r in joining if not r.finished]:
            kv, logits = _prefill(self.loaded, row.prompt, self.keywords)
            # The first token is streamed before the merge below: a new request's time to
            # first token does not wait for the copy of the running rows' cache.
            token = int(choose_tokens(logits.unsqueeze(0), row.config, row.generator)[0])
            row.answer.append(token)
            self._advance(row, token)
            if not row.finished:
                joined.append(row)
                kvs.append(kv)
                first.append(token)
        keep = [i for i, row in enumerate(self.rows) if not row.finished]
        if joined or len(keep) < len(self.rows):
            self._rebuild(keep, joined, kvs, first)

    def _rebuild(
        self,
        keep: list[int],
        joining: list[Row],
        kvs: list[list[KV]],
        first_tokens: list[int],
    ) -> None:
        """New buffers holding the kept rows then the joining ones, with leading columns
        that no row uses trimmed off (one copy of what stays cached)."""
        trim = min((self.starts[i] for i in keep), default=self.length)
        old_width = self.length - trim
        width = max([old_width, *(kv[0][0].shape[-2] for kv in kvs)])
        rows = [self.rows[i] for i in keep] + joining
        if not rows:
            self.rows, self.starts, self.layers, self.length = [], [], [], 0
            self.mask = self.tokens = self.cache = None
            return
        remaining = max(row.config.max_tokens - len(row.answer) for row in rows)
        capacity = width + max(1, min(remaining, ANSWER_RESERVE))
        shift = width - old_width
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        layer_count = len(self.layers) or len(kvs[0])
        new_layers = []
        for layer in range(layer_count):
            sample = self.layers[layer]._k if self.layers else kvs[0][layer][0]
            assert sample is not None
            shape = (len(rows), sample.shape[1], capacity, sample.shape[-1])
            # Zeros: padding is masked, but 0 × NaN from stale memory would still be NaN.
            k, v = sample.new_zeros(shape), sample.new_zeros(shape)
            if keep:
                old = self.layers[layer]
                assert old._k is not None and old._v is not None
                k[: len(keep), :, shift:width] = old._k.index_select(0, index)[
                    :, :, trim : self.length
                ]
                v[: len(keep), :, shift:width] = old._v.index_select(0, index)[
                    :, :, trim : self.length
                ]
            for offset, kv in enumerate(kvs):
                row_k, row_v = kv[layer]
                at = len(keep) + offset
                k[at, :, width - row_k.shape[-2] : width] = row_k[0]
                v[at, :, width - row_v.shape[-2] : width] = row_v[0]
            new_layers.append(GrowingLayer(k, v, width))
        mask = torch.zeros(len(rows), capacity, dtype=torch.long, device=self.device)
        starts = [self.starts[i] - trim + shift for i in keep]
        starts += [width - kv[0][0].shape[-2] for kv in kvs]
        for row, start in enumerate(starts):
            mask[row, start:width] = 1
        tokens = [self.tokens.index_select(0, index)] if keep and self.tokens is not None else []
        tokens.append(torch.tensor(first_tokens, dtype=torch.long, device=self.device))
        self.rows, self.starts, self.layers, self.length = rows, starts, new_layers, width
        self.cache = Cache(layers=list(new_layers))
        self.mask = mask
        self.tokens = torch.cat(tokens)
        live = self.live
        for row in self.rows:
            row.peak_batch = max(row.peak_batch, live)

    def step(self) -> None:
        """Run one forward pass on the chosen tokens, then choose and report each row's
        next token; finished rows leave (dropped from the cache when enough have)."""
        if not self.rows or self.tokens is None:
            return
        live = [i for i, row in enumerate(self.rows) if not row.finished]
        if not live:
            self._rebuild([], [], [], [])
            return
        if len(self.rows) - len(live) >= max(1, COMPACT_SHARE * len(self.rows)):
            self._rebuild(live, [], [], [])
        logits = self._forward(self.tokens)
        tokens = logits.argmax(dim=-1)
        for i, row in enumerate(self.rows):
            if not row.finished and row.config.temperature > 0:
                tokens[i] = choose_tokens(logits[i : i + 1], row.config, row.generator)[0]
        self.tokens = tokens
        for row, token in zip(self.rows, tokens.tolist(), strict=True):
            if not row.finished:
                row.answer.append(token)
                self._advance(row, token)

    def _forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Each row's next-token logits after `tokens`."""
        assert self.mask is not None
        if self.length >= self.mask.shape[1]:  # the cache layers grow themselves alike
            grown = self.mask.new_zeros((self.mask.shape[0], 2 * self.mask.shape[1]))
            grown[:, : self.mask.shape[1]] = self.mask
            self.mask = grown
        self.mask[:, self.length] = 1
        positions = [len(row.prompt) + len(row.answer) - 1 for row in self.rows]
        output = self.loaded.model(
            input_ids=tokens.unsqueeze(1),
            attention_mask=self.mask[:, : self.length + 1],
            position_ids=torch.tensor(positions, device=self.device).unsqueeze(1),
            use_cache=True,
            **{self.keywords.cache: self.cache},
        )
        self.length += 1
        return output.logits[:, -1]

    def _advance(self, row: Row, token: int) -> None:
        """Stream the row's new text; finish it on EOS, a stop string or `max_tokens`."""
        stopped = False
        if row.text is not None:
            delta, stopped = row.text.push(row.answer)
            if delta and row.stream and row.sink is not None:
                row.sink(CompletionChunk(text=delta))
        if stopped or token in self.eos or len(row.answer) >= row.config.max_tokens:
            self._finish(row)

    def _finish(self, row: Row) -> None:
        completion = answer_completion(
            self.loaded,
            row.answer,
            row.prompt,
            row.config,
            self.eos,
            time.monotonic() - row.enqueued,
            max(row.peak_batch, 1),
        )
        row.completion = completion
        rest = row.text.rest(completion.text) if row.text is not None and row.stream else ""
        if row.sink is not None:
            row.sink(CompletionChunk(text=rest if row.stream else "", completion=completion))


def decode_batch(
    loaded: LoadedModel, prompts: list[list[int]], config: GenerationConfig
) -> list[Completion]:
    """Generate one answer per prompt (token ids), all joining at the first step; call with
    `loaded.lock` held."""
    rows = [Row(prompt, config) for prompt in prompts]
    batch = RunningBatch(loaded, max(1, len(rows)))
    batch.admit(rows)
    while batch.rows:
        batch.step()
    return [row.completion for row in rows if row.completion is not None]
