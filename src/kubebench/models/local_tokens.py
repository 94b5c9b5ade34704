"""Token-level pieces both local generation paths share (transformers' `generate()` in
`local_generation` and `decoding`'s own loop): the ids that end an answer, how far back to
look for a stop string, and one generated row as a `Completion`."""

from __future__ import annotations

from kubebench.models.base import Completion, GenerationConfig
from kubebench.models.local_loading import LoadedModel


def eos_ids(loaded: LoadedModel) -> set[int]:
    """Every token id that ends an answer (the model's and the tokenizer's)."""
    ids: set[int] = set()
    for source in (loaded.model.generation_config.eos_token_id, loaded.tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source:
            ids.update(source)
    return ids


def stop_window(stop: tuple[str, ...]) -> int:
    """How many trailing tokens to decode to see any stop string (0: no stop strings)."""
    lengths = [len(s) for s in stop if s]
    return max(lengths) + 8 if lengths else 0  # every token decodes to at least one character


def answer_completion(
    loaded: LoadedModel,
    tokens: list[int],
    prompt: list[int],
    config: GenerationConfig,
    eos: set[int],
    elapsed_s: float,
    batch_size: int,
) -> Completion:
    """The `Completion` of one generated row: text up to a stop string, counts, reason."""
    text = loaded.tokenizer.decode(tokens, skip_special_tokens=True)
    cuts = [i for i in (text.find(s) for s in config.stop if s) if i >= 0]
    stopped = bool(cuts) or bool(tokens and tokens[-1] in eos)
    return Completion(
        text=text[: min(cuts)] if cuts else text,
        prompt_tokens=len(prompt),
        completion_tokens=len(tokens),
        latency_s=elapsed_s,
        finish_reason="stop" if stopped or len(tokens) < config.max_tokens else "length",
        raw={"batch_size": batch_size},
    )
