"""Continuous batching and streaming of local models, on a tiny random Llama built here."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from kubebench.models.base import CompletionChunk, GenerationConfig, StreamingProvider
from kubebench.models.hf import HFProvider
from kubebench.models.local_loading import LocalModelSpec, load_local_model
from kubebench.models.local_tokens import TextDeltas
from tests.models.test_hf import REQUESTS, conversation
from tests.models.tiny_model import build_tiny_model

LONG = 200  # tokens: the tiny model's context is 256, its prompts about 20
GREEDY = GenerationConfig(max_tokens=24)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("continuous") / "llama", seed=5)


def provider(folder: Path, **options: float) -> HFProvider:
    loaded = load_local_model(LocalModelSpec(source=str(folder), device="cpu"))
    return HFProvider.from_loaded(loaded, **options)  # type: ignore[arg-type]


async def collect(
    model: HFProvider, request: str, config: GenerationConfig
) -> list[CompletionChunk]:
    return [chunk async for chunk in model.stream(conversation(request), config)]


async def test_greedy_text_is_the_same_alone_batched_and_joining_mid_batch(llama: Path) -> None:
    alone = provider(llama, max_batch_size=1, batch_window_s=0)
    expected = [(await alone.complete(conversation(r), GREEDY)).text for r in REQUESTS]
    await alone.aclose()

    together = provider(llama, max_batch_size=8, batch_window_s=0.2)
    batched = await asyncio.gather(*(together.complete(conversation(r), GREEDY) for r in REQUESTS))
    assert [c.text for c in batched] == expected
    assert together.generator.batch_sizes == [len(REQUESTS)]

    # Each request joins a batch already decoding: started one step of the previous apart.
    staggered = provider(llama, max_batch_size=8, batch_window_s=0)
    tasks = []
    for request in REQUESTS:
        chunks = staggered.stream(conversation(request), GREEDY)
        first = await anext(chunks)
        tasks.append(asyncio.create_task(_rest(first, chunks)))
    joined = await asyncio.gather(*tasks)
    await together.aclose()
    await staggered.aclose()
    assert joined == expected
    assert max(staggered.generator.batch_sizes) > 1  # later requests really joined running ones


async def _rest(first: CompletionChunk, chunks) -> str:  # type: ignore[no-untyped-def]
    texts = [first.text]
    async for chunk in chunks:
        texts.append(chunk.text)
    return "".join(texts)


async def test_short_request_joining_mid_batch_finishes_first(llama: Path) -> None:
    model = provider(llama, max_batch_size=4, batch_window_s=0)
    events: list[tuple[str, str, float]] = []

    async def follow(name: str, request: str, config: GenerationConfig) -> CompletionChunk:
        last = None
        async for chunk in model.stream(conversation(request), config):
            kind = "done" if chunk.completion is not None else "token"
            events.append((name, kind, time.monotonic()))
            last = chunk
        assert last is not None
        return last

    long = asyncio.create_task(follow("long", REQUESTS[1], GenerationConfig(max_tokens=LONG)))
    while not any(name == "long" for name, _, _ in events):
        await asyncio.sleep(0.001)  # the long answer is decoding
    short = await follow("short", REQUESTS[2], GenerationConfig(max_tokens=3))
    long_last = await long
    await model.aclose()

    order = [(name, kind) for name, kind, _ in events]
    long_done = order.index(("long", "done"))
    assert order.index(("short", "done")) < long_done
    assert order.index(("short", "token")) < long_done  # its first token came mid-batch
    assert long_last.completion is not None and long_last.completion.finish_reason == "length"
    assert long_last.completion.completion_tokens == LONG
    assert short.completion is not None and short.completion.completion_tokens == 3
    assert 2 in model.generator.batch_sizes  # the short one ran beside the long one


async def test_stream_joins_to_the_completion_text(llama: Path) -> None:
    model = provider(llama, max_batch_size=4, batch_window_s=0.05)
    assert isinstance(model, StreamingProvider)
    streams = await asyncio.gather(*(collect(model, r, GREEDY) for r in REQUESTS[:4]))
    completes = [await model.complete(conversation(r), GREEDY) for r in REQUESTS[:4]]
    await model.aclose()
    for chunks, completion in zip(streams, completes, strict=True):
        last = chunks[-1].completion
        assert last is not None and all(c.completion is None for c in chunks[:-1])
        assert "".join(c.text for c in chunks) == last.text == completion.text
        assert len(chunks) > 3  # many deltas, not one block
        assert last.prompt_tokens == completion.prompt_tokens
        assert last.completion_tokens == completion.completion_tokens
        assert last.finish_reason == completion.finish_reason


async def test_stop_strings_never_leak_into_the_stream(llama: Path) -> None:
    model = provider(llama, max_batch_size=4, batch_window_s=0)
    full = "".join(c.text for c in await collect(model, REQUESTS[3], GREEDY))
    words = full.split()
    assert len(words) >= 5, full
    stop = f"{words[3]} {words[4]}"  # two tokens: the first alone is a prefix to hold back
    chunks = await collect(model, REQUESTS[3], GREEDY.model_copy(update={"stop": (stop,)}))
    await model.aclose()
    streamed = "".join(c.text for c in chunks)
    assert streamed == full[: full.index(stop)]
    last = chunks[-1].completion
    assert last is not None and last.text == streamed and last.finish_reason == "stop"
    assert all(words[3] not in c.text for c in chunks)


async def test_rows_with_different_configs_share_a_batch(llama: Path) -> None:
    sampled = GenerationConfig(temperature=1.0, top_p=0.9, max_tokens=16, seed=11)
    short = GenerationConfig(max_tokens=5)
    alone = provider(llama, max_batch_size=1, batch_window_s=0)
    expected = [
        (await alone.complete(conversation(REQUESTS[0]), GREEDY)).text,
        (await alone.complete(conversation(REQUESTS[1]), sampled)).text,
        (await alone.complete(conversation(REQUESTS[2]), short)).text,
    ]
    mixed = provider(llama, max_batch_size=4, batch_window_s=0.2)
    found = await asyncio.gather(
        mixed.complete(conversation(REQUESTS[0]), GREEDY),
        mixed.complete(conversation(REQUESTS[1]), sampled),
        mixed.complete(conversation(REQUESTS[2]), short),
    )
    await alone.aclose()
    await mixed.aclose()
    assert mixed.generator.batch_sizes == [3]  # one batch, three configs
    # A seeded row samples from its own generator: the batch around it changes nothing.
    assert [c.text for c in found] == expected
    assert found[2].completion_tokens == 5


async def test_a_stream_left_early_frees_its_row(llama: Path) -> None:
    model = provider(llama, max_batch_size=2, batch_window_s=0)
    chunks = model.stream(conversation(REQUESTS[0]), GenerationConfig(max_tokens=LONG))
    await anext(chunks)
    await chunks.aclose()  # the client went away
    other = await model.complete(conversation(REQUESTS[1]), GREEDY)
    await model.aclose()
    assert other.text


class ByteTokenizer:
    """Token ids are bytes; decoding replaces incomplete UTF-8 like real tokenizers do."""

    def decode(self, tokens: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(tokens).decode("utf-8", errors="replace")


def feed(text: str, stop: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    deltas, tokens = TextDeltas(ByteTokenizer(), stop), []
    out, stopped = [], False
    for byte in text.encode():
        tokens.append(byte)
        delta, stopped = deltas.push(tokens)
        out.append(delta)
        if stopped:
            break
    return out, stopped


def test_text_deltas_hold_back_incomplete_characters() -> None:
    out, _ = feed("né")
    assert out == ["n", "", "é"]  # é is two bytes: nothing shows after the first


def test_text_deltas_hold_back_what_may_begin_a_stop_string() -> None:
    out, stopped = feed("ab<EX<END>zz", stop=("<END>",))
    assert stopped and "".join(out) == "ab<EX"
    assert out[:4] == ["a", "b", "", ""]  # "<", "<E" could begin "<END>"
    assert out[4] == "<EX"  # "<EX" cannot: released at once
    out, stopped = feed("abc", stop=("c",))
    assert stopped and out == ["a", "b", ""]


async def test_a_burst_joins_over_several_steps_within_the_prefill_budget(llama: Path) -> None:
    # Prompts of about 20 tokens: a 30-token budget admits one per step, after the first.
    alone = provider(llama, max_batch_size=1, batch_window_s=0)
    expected = [(await alone.complete(conversation(r), GREEDY)).text for r in REQUESTS]
    await alone.aclose()
    budgeted = provider(llama, max_batch_size=8, batch_window_s=0.2, prefill_tokens=30)
    batched = await asyncio.gather(*(budgeted.complete(conversation(r), GREEDY) for r in REQUESTS))
    await budgeted.aclose()
    assert [c.text for c in batched] == expected
    assert budgeted.generator.batch_sizes == list(range(1, len(REQUESTS) + 1))
