"""The hf provider on a tiny random Llama built in the test, with and without a LoRA adapter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from kubebench.errors import UserError
from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.generation_bench import (
    GenerationBenchResult,
    bench_decoders,
    summary_lines,
)
from kubebench.models.hf import HFProvider
from kubebench.models.registry import create_provider
from tests.models.tiny_model import build_lora_adapter, build_tiny_model

GREEDY = GenerationConfig(max_tokens=12)
REQUESTS = [
    "create a ConfigMap named web",
    "please add a Role named api in namespace prod with verbs get list watch",
    "make a Secret",
    "create a RoleBinding named team for the ServiceAccount app in namespace dev",
    "add a Namespace called prod",
    "create a ClusterRole named web with rules for pods and services",
]


def conversation(request: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="make Kubernetes yes"),
        ChatMessage(role="user", content=request),
    ]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    base = build_tiny_model(root / "base")
    adapter = build_lora_adapter(base, root / "adapter")
    return base, adapter


def hf(base: Path, **options: object) -> HFProvider:
    provider = create_provider(f"hf:{base}", device="cpu", **options)
    assert isinstance(provider, HFProvider)
    return provider


async def answers(provider: HFProvider, config: GenerationConfig = GREEDY) -> list[str]:
    return [(await provider.complete(conversation(r), config)).text for r in REQUESTS]


async def test_adapter_changes_the_answers(tiny: tuple[Path, Path]) -> None:
    base, adapter = tiny
    plain = hf(base)
    tuned = hf(base, adapter=str(adapter))
    base_answers, tuned_answers = await answers(plain), await answers(tuned)
    await plain.aclose()
    await tuned.aclose()

    assert all(base_answers) and all(tuned_answers)
    assert sum(a != b for a, b in zip(base_answers, tuned_answers, strict=True)) >= 4
    assert "adapter" not in plain.describe()
    assert tuned.describe()["adapter"] == str(adapter.resolve())
    assert tuned.describe()["adapter_weights"]


async def test_adapter_answers_match_peft_applied_by_hand(tiny: tuple[Path, Path]) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, adapter = tiny
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
    text = tokenizer.apply_chat_template(
        [m.model_dump() for m in conversation(REQUESTS[1])],
        add_generation_prompt=True,
        tokenize=False,
    )
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    expected = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)

    tuned = hf(base, adapter=str(adapter))
    completion = await tuned.complete(conversation(REQUESTS[1]), GREEDY)
    await tuned.aclose()
    assert completion.text == expected


async def test_concurrent_calls_are_batched_and_answer_like_single_calls(
    tiny: tuple[Path, Path],
) -> None:
    base, _ = tiny
    single = hf(base, max_batch_size=1)
    one_by_one = await answers(single)
    batched = hf(base, max_batch_size=4, batch_window_s=0.2)
    completions = await asyncio.gather(
        *(batched.complete(conversation(r), GREEDY) for r in REQUESTS)
    )
    await single.aclose()
    await batched.aclose()

    # Four start together; the other two join as rows finish (continuous batching).
    assert batched.generator.batch_sizes[0] == 4 and max(batched.generator.batch_sizes) == 4
    assert set(single.generator.batch_sizes) == {1}
    assert [c.text for c in completions] == one_by_one  # left padding changes nothing
    for request, completion in zip(REQUESTS, completions, strict=True):
        assert completion.prompt_tokens == len(conversation_ids(single, request))
        assert completion.completion_tokens is not None
        assert 0 < completion.completion_tokens <= GREEDY.max_tokens


def conversation_ids(provider: HFProvider, request: str) -> list[int]:
    from kubebench.models.local_generation import render_chat

    return render_chat(provider.loaded, conversation(request))


async def test_max_tokens_limits_the_answer(tiny: tuple[Path, Path]) -> None:
    provider = hf(tiny[0])
    completion = await provider.complete(conversation(REQUESTS[0]), GenerationConfig(max_tokens=3))
    await provider.aclose()
    if completion.finish_reason == "length":
        assert completion.completion_tokens == 3
    else:  # the random model happened to end its answer sooner
        assert completion.completion_tokens is not None and completion.completion_tokens <= 3


async def test_stop_string_cuts_the_answer(tiny: tuple[Path, Path]) -> None:
    provider = hf(tiny[0])
    fulls = [(await provider.complete(conversation(r), GREEDY)).text for r in REQUESTS]
    request, full = max(zip(REQUESTS, fulls, strict=True), key=lambda pair: len(pair[1].split()))
    words = full.split()
    assert len(words) >= 4, fulls
    stop = words[2]
    config = GREEDY.model_copy(update={"stop": (stop,)})
    cut = await provider.complete(conversation(request), config)
    await provider.aclose()
    assert cut.text == full[: full.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens is not None and cut.completion_tokens < len(words)


async def test_sampling_is_seeded(tiny: tuple[Path, Path]) -> None:
    provider = hf(tiny[0])
    sampled = GenerationConfig(temperature=1.0, top_p=0.95, max_tokens=16, seed=7)
    first = await answers(provider, sampled)
    again = await answers(provider, sampled)
    other = await answers(provider, sampled.model_copy(update={"seed": 8}))
    greedy = await answers(provider)
    await provider.aclose()
    assert first == again
    assert first != other
    assert first != greedy


def test_model_is_loaded_once_per_process(tiny: tuple[Path, Path]) -> None:
    assert hf(tiny[0]).loaded is hf(tiny[0]).loaded


def test_missing_model_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no model folder") as missing_folder:
        hf(tmp_path / "nowhere")
    assert "never downloads" in missing_folder.value.one_line()
    with pytest.raises(UserError, match="cannot load model") as not_cached:
        create_provider("hf:kubebench-tests/not-a-cached-model", device="cpu")
    assert "never downloads" in not_cached.value.one_line()


def test_folder_without_adapter_config_is_a_user_error(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="not a PEFT adapter"):
        hf(tiny[0], adapter=str(tmp_path))


def test_four_bit_needs_cuda(tiny: tuple[Path, Path]) -> None:
    with pytest.raises(UserError, match="CUDA"):
        hf(tiny[0], load_in_4bit="true")


def test_bad_dtype_is_a_user_error(tiny: tuple[Path, Path]) -> None:
    with pytest.raises(UserError, match="dtype"):
        hf(tiny[0], dtype="float8")


def test_generation_bench_times_both_decoders_on_the_same_prompts(
    tiny: tuple[Path, Path],
) -> None:
    loaded = hf(tiny[0]).loaded
    conversations = [conversation(r) for r in REQUESTS]
    seen: list[tuple[str, int]] = []
    runs = bench_decoders(
        loaded,
        conversations,
        max_tokens=8,
        streams=(1, 3),
        progress=lambda label, done: seen.append((label, done)),
    )
    assert [(r.decoder, r.streams) for r in runs] == [
        ("handwritten", 1),
        ("handwritten", 3),
        ("transformers", 1),
        ("transformers", 3),
    ]
    assert all(r.error is None for r in runs), [r.error for r in runs]
    one, three = runs[0], runs[1]
    assert set(one.batch_sizes) == {1}
    assert max(three.batch_sizes) == 3  # three streams in flight: batches of three
    result = GenerationBenchResult(
        model={"dtype": "float32"},
        device="cpu",
        hardware="test",
        load_s=0.0,
        weights_from="source",
        prompts=len(REQUESTS),
        max_tokens=8,
        runs=runs,
    )
    # Greedy: the same answers whatever the decoder or the number of streams.
    assert [result.identical_answers(r) for r in runs] == [len(REQUESTS)] * 4
    assert one.completion_tokens == three.completion_tokens == runs[2].completion_tokens > 0
    assert ("handwritten ×3", len(REQUESTS)) in seen
    assert ("transformers ×1", len(REQUESTS)) in seen
    text = "\n".join(summary_lines(result))
    assert "tokens/s" in text and "transformers" in text
