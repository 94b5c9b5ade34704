"""Key/value caches for local decoding: preallocated rows and a reused prompt prefix.

transformers' `DynamicLayer` concatenates every new token onto the whole cache, so each
decoding step copies all of it: at batch 16 on a CPU that copy costs more than the
matmuls. `GrowingLayer` keeps the same contract (`keys`/`values` hold what is cached) but
writes into a preallocated buffer that grows by doubling. `PromptPrefix` keeps the last
prompt's keys and values so that the next prompt computes only what follows their common
prefix (the system prompt, for a benchmark). Imports torch and transformers: import
this module lazily.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

KV = tuple[torch.Tensor, torch.Tensor]  # one layer's keys and values, [batch, heads, len, dim]


class GrowingLayer(DynamicLayer):
    """A full-attention cache layer backed by a preallocated buffer (no copy per token)."""

    def __init__(
        self,
        keys: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
        length: int | None = None,
    ) -> None:
        """Empty (filled by the first update), or holding `length` positions of buffers
        `keys`/`values` ([batch, heads, capacity, dim]; all of them by default)."""
        super().__init__()
        self.length = 0
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None
        if keys is not None and values is not None:
            self._adopt(keys, values, keys.shape[-2] if length is None else length)

    def _adopt(self, k: torch.Tensor, v: torch.Tensor, length: int) -> None:
        self._k, self._v, self.length = k, v, length
        self.device, self.dtype = k.device, k.dtype
        self.is_initialized = True
        self._expose()

    def _expose(self) -> None:
        assert self._k is not None and self._v is not None
        self.keys = self._k[:, :, : self.length]
        self.values = self._v[:, :, : self.length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> KV:
        end = self.length + key_states.shape[-2]
        if self._k is None or self._v is None:
            shape = (*key_states.shape[:2], end, key_states.shape[-1])
            self._adopt(key_states.new_empty(shape), value_states.new_empty(shape), 0)
        elif end > self._k.shape[-2]:
            self.reserve(max(end, 2 * self._k.shape[-2]))
        assert self._k is not None and self._v is not None
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self._expose()
        return self.keys, self.values

    def reserve(self, capacity: int) -> None:
        """Make room for `capacity` positions (copies what is cached once)."""
        assert self._k is not None and self._v is not None
        if capacity <= self._k.shape[-2]:
            return
        k = self._k.new_empty((*self._k.shape[:2], capacity, self._k.shape[-1]))
        v = self._v.new_empty((*self._v.shape[:2], capacity, self._v.shape[-1]))
        k[:, :, : self.length] = self.keys
        v[:, :, : self.length] = self.values
        self._adopt(k, v, self.length)

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in `rows` (finished answers stop costing compute)."""
        assert self._k is not None and self._v is not None
        # One copy of the whole buffer keeps its spare room for the tokens still to come.
        self._adopt(self._k.index_select(0, rows), self._v.index_select(0, rows), self.length)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.keep_rows(indices)

    def crop(self, max_length: int) -> None:
        self.length = max_length if max_length >= 0 else self.length + max_length
        self._expose()


def supports_growing_cache(model: Any) -> bool:
    """Whether every attention layer of `model` uses a plain full-attention cache.

    Models with sliding windows, linear attention or encoder-decoder caches keep
    transformers' own `generate()`.
    """
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    try:
        layers = DynamicCache(config=config).layers
    except Exception:  # configs whose cache layout this transformers cannot describe
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


@dataclass(frozen=True)
class ForwardKeywords:
    """How this model's forward() is called: the cache's keyword changed in transformers 5.x
    (`past_key_values` became `cache`), and not every model can skip unneeded logits."""

    cache: str
    logits_to_keep: bool

    @classmethod
    def of(cls, model: Any) -> ForwardKeywords:
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        parameters = inspect.signature(inner.forward).parameters
        return cls(
            cache="cache" if "cache" in parameters else "past_key_values",
            logits_to_keep="logits_to_keep" in parameters,
        )


def layers_kv(cache: Cache) -> list[KV]:
    return [(layer.keys, layer.values) for layer in cache.layers]


@dataclass
class PromptPrefix:
    """The keys and values of the last prompt prefilled, for the next one to start from."""

    tokens: tuple[int, ...] = ()
    kv: list[KV] | None = None

    def shared_length(self, prompt: list[int]) -> int:
        """How many leading tokens `prompt` shares with the kept prompt (never all of it:
        its last token must run through the model to give the first logits)."""
        if self.kv is None:
            return 0
        shared = 0
        for a, b in zip(prompt[:-1], self.tokens, strict=False):
            if a != b:
                break
            shared += 1
        return shared

    def start_cache(self, shared: int) -> Cache:
        """A one-row cache holding the first `shared` positions of the kept prompt."""
        if not shared or self.kv is None:
            return Cache(layer_class_to_replicate=GrowingLayer)
        layers: list[Any] = [
            GrowingLayer(k[:, :, :shared].clone(), v[:, :, :shared].clone()) for k, v in self.kv
        ]
        return Cache(layers=layers)

    def keep(self, prompt: list[int], kv: list[KV]) -> None:
        self.tokens, self.kv = tuple(prompt), kv


def batch_cache(rows: list[list[KV]], reserve: int) -> tuple[Cache, int]:
    """One left-padded batch cache from one-row caches, room for `reserve` more tokens.

    Returns the cache (of `GrowingLayer`s) and the padded width; positions left of each
    row's prompt are zero and must be masked out by the attention mask.
    """
    width = max(kv[0][0].shape[-2] for kv in rows)
    layers: list[Any] = []
    for index in range(len(rows[0])):
        first_k, first_v = rows[0][index]
        k = first_k.new_empty((len(rows), first_k.shape[1], width + reserve, first_k.shape[-1]))
        v = first_v.new_empty((len(rows), first_v.shape[1], width + reserve, first_v.shape[-1]))
        for row, kv in enumerate(rows):
            row_k, row_v = kv[index]
            pad = width - row_k.shape[-2]
            k[row, :, :pad] = 0  # masked, but 0 × NaN from stale memory would still be NaN
            v[row, :, :pad] = 0
            k[row, :, pad:width] = row_k[0]
            v[row, :, pad:width] = row_v[0]
        layers.append(GrowingLayer(k, v, width))
    return Cache(layers=layers), width
