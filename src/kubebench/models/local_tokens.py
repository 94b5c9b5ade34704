"""Token-level pieces both local generation paths share (transformers' `generate()` in
`local_generation` and `decoding`'s own loop): the ids that end an answer, how far back to
look for a stop string, an answer's text as it grows (`TextDeltas`), and one generated
row as a `Completion`."""

from __future__ import annotations

from typing import Any

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


class TextDeltas:
    """The text of a growing answer, handed out in safe pieces.

    The whole answer is decoded again at each token (so merged and multi-byte tokens
    render as in the final text); a trailing incomplete character (U+FFFD) and any tail
    that could still become a stop string are held back until the next tokens decide.
    """

    def __init__(self, tokenizer: Any, stop: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.sent = ""

    def push(self, tokens: list[int]) -> tuple[str, bool]:
        """The new text that is safe to show, and whether a stop string has appeared."""
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        cuts = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if cuts:
            return self._send(text[: min(cuts)]), True
        safe = text.rstrip("\ufffd")
        return self._send(safe[: len(safe) - _stop_prefix_tail(safe, self.stop)]), False

    def rest(self, final: str) -> str:
        """What of the final text has not been handed out yet."""
        return final[len(self.sent) :] if final.startswith(self.sent) else ""

    def _send(self, visible: str) -> str:
        # Text that rewrites what was already sent (a tokenizer's space clean-up) waits.
        if len(visible) <= len(self.sent) or not visible.startswith(self.sent):
            return ""
        delta, self.sent = visible[len(self.sent) :], visible
        return delta


def _stop_prefix_tail(text: str, stop: tuple[str, ...]) -> int:
    """The length of the longest end of `text` that begins some stop string."""
    longest = 0
    for s in stop:
        for size in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:size]):
                longest = size
                break
    return longest
