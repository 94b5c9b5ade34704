"""Batched decoding on a growing cache, checked against transformers' own generate()."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from kubebench.models import decoding  # noqa: E402
from kubebench.models.base import GenerationConfig  # noqa: E402
from kubebench.models.kv_cache import GrowingLayer, supports_growing_cache  # noqa: E402
from kubebench.models.local_generation import generate_batch, render_chat  # noqa: E402
from kubebench.models.local_loading import LocalModelSpec, load_local_model  # noqa: E402
from tests.models.test_hf import REQUESTS, conversation  # noqa: E402
from tests.models.tiny_model import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("decoding") / "llama", seed=3)


def reference_answers(loaded, prompts: list[list[int]], max_tokens: int) -> list[list[int]]:
    """Greedy answers of transformers' generate(), one unpadded prompt at a time."""
    answers = []
    with torch.inference_mode():
        for prompt in prompts:
            out = loaded.model.generate(
                input_ids=torch.tensor([prompt]),
                attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=loaded.tokenizer.pad_token_id,
            )
            answers.append(loaded.tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True))
    return answers


def fresh(folder: Path):
    # The loaded model is shared within the process: start without another test's prefix.
    loaded = load_local_model(LocalModelSpec(source=str(folder), device="cpu"))
    loaded.prompt_prefix = None
    return loaded


def test_batched_answers_equal_generate_one_at_a_time(llama: Path) -> None:
    loaded = fresh(llama)
    prompts = [render_chat(loaded, conversation(r)) for r in REQUESTS]
    assert len({len(p) for p in prompts}) > 1  # rows really are left-padded
    config = GenerationConfig(max_tokens=20)
    batched = generate_batch(loaded, prompts, config)

    assert loaded.growing_cache is True
    assert [c.text for c in batched] == reference_answers(loaded, prompts, 20)
    assert all(c.raw["batch_size"] == len(prompts) for c in batched)
    # Every prompt after the first reused the shared system-prompt prefix.
    assert loaded.prompt_prefix.tokens == tuple(prompts[-1])


def test_prompt_prefix_is_reused_and_changes_nothing(llama: Path) -> None:
    loaded = fresh(llama)
    prompts = [render_chat(loaded, conversation(r)) for r in REQUESTS[:3]]
    config = GenerationConfig(max_tokens=12)
    first = generate_batch(loaded, prompts[:1], config)[0]
    shared = loaded.prompt_prefix.shared_length(prompts[1])
    system_turn = render_chat(loaded, conversation(REQUESTS[0])[:1])
    assert shared >= len(system_turn) - 2  # at least the system turn is not recomputed
    later = generate_batch(loaded, prompts[1:], config)
    expected = reference_answers(loaded, prompts, 12)
    assert [first.text, *(c.text for c in later)] == expected


def test_cache_grows_past_its_reserve(llama: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "ANSWER_RESERVE", 2)
    loaded = fresh(llama)
    prompts = [render_chat(loaded, conversation(r)) for r in REQUESTS[:3]]
    answers = generate_batch(loaded, prompts, GenerationConfig(max_tokens=40))
    assert [c.text for c in answers] == reference_answers(loaded, prompts, 40)


def test_rows_that_stop_early_leave_the_batch_unchanged(llama: Path) -> None:
    loaded = fresh(llama)
    prompts = [render_chat(loaded, conversation(r)) for r in REQUESTS]
    full = reference_answers(loaded, prompts, 16)
    # A stop word that ends some answers early and others not at all.
    words = {w for answer in full for w in answer.split() if len(w) >= 4}
    stop = max(words, key=lambda w: (0 < sum(w in a for a in full) < len(full), w))
    config = GenerationConfig(max_tokens=16, stop=(stop,))
    batched = generate_batch(loaded, prompts, config)
    for answer, completion in zip(full, batched, strict=True):
        if stop in answer:
            assert completion.text == answer[: answer.index(stop)]
            assert completion.finish_reason == "stop"
        else:
            assert completion.text == answer
    assert any(stop in a for a in full) and not all(stop in a for a in full)


def test_growing_layer_keeps_the_chosen_rows() -> None:
    keys = torch.arange(4 * 2 * 5 * 3, dtype=torch.float32).reshape(4, 2, 5, 3)
    layer = GrowingLayer(keys, -keys, length=4)
    assert layer.get_seq_length() == 4
    layer.keep_rows(torch.tensor([1, 3]))
    assert torch.equal(layer.keys, keys[[1, 3], :, :4])
    assert torch.equal(layer.values, -keys[[1, 3], :, :4])
    new = torch.ones(2, 2, 3, 3)
    layer.update(new, new)  # past the old capacity: grows, keeps what was cached
    assert layer.get_seq_length() == 7
    assert torch.equal(layer.keys[:, :, :4], keys[[1, 3], :, :4])
    assert torch.equal(layer.keys[:, :, 4:], new)


def test_top_p_keeps_only_the_head_of_the_distribution() -> None:
    logits = torch.tensor([[0.0, 5.0, 0.0, 4.0], [3.0, 0.0, 0.0, 0.0]])
    generator = torch.Generator().manual_seed(0)
    config = GenerationConfig(temperature=1.0, top_p=0.5)
    picks = {tuple(decoding.choose_tokens(logits, config, generator).tolist()) for _ in range(50)}
    assert picks == {(1, 0)}
    wide = GenerationConfig(temperature=1.0, top_p=1.0)
    spread = {int(decoding.choose_tokens(logits, wide, generator)[0]) for _ in range(200)}
    assert spread >= {1, 3}


def test_sliding_window_models_fall_back_to_generate(tmp_path: Path) -> None:
    from kubebench.models.hf import HFProvider

    mistral = build_tiny_model(tmp_path / "mistral", sliding_window=4)
    loaded = fresh(mistral)
    assert not supports_growing_cache(loaded.model)

    provider = HFProvider.from_loaded(loaded, max_batch_size=4, batch_window_s=0.2)

    async def ask() -> list[str]:
        found = await asyncio.gather(
            *(provider.complete(conversation(r), GenerationConfig(max_tokens=6)) for r in REQUESTS)
        )
        await provider.aclose()
        return [c.text for c in found]

    texts = asyncio.run(ask())
    assert loaded.growing_cache is False
    assert all(isinstance(t, str) for t in texts) and len(texts) == len(REQUESTS)
    prompts = [render_chat(loaded, conversation(r)) for r in REQUESTS]
    assert texts == reference_answers(loaded, prompts, 6)
