"""The provider registry and `kubebench models list`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.errors import UserError
from kubebench.models.registry import create_provider, list_providers, parse_model_id


def test_every_shipped_provider_is_registered_with_help() -> None:
    infos = {info.name: info for info in list_providers()}
    assert {"openai", "hf", "embedded", "oracle", "scripted"} <= infos.keys()
    for name in ("openai", "hf", "embedded"):
        help_ = infos[name].help
        assert help_ is not None and help_.id_syntax.startswith(f"{name}:")
    assert any("OPENAI_API_KEY" in var for var, _ in infos["openai"].help.environment)


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="unknown model provider 'nope'") as caught:
        create_provider("nope:model")
    assert "openai" in caught.value.message and "embedded" in caught.value.message


def test_doubles_load_through_the_registry_like_any_provider() -> None:
    oracle = create_provider("oracle:reference")
    assert oracle.model_id == "oracle:reference"


def test_model_id_options_are_parsed_and_keyword_options_win() -> None:
    parsed = parse_model_id("hf:./base?adapter=./lora&dtype=bfloat16")
    assert (parsed.provider, parsed.name) == ("hf", "./base")
    assert parsed.options == {"adapter": "./lora", "dtype": "bfloat16"}
    model = create_provider("openai:m?base_url=http://127.0.0.1:1/v1", base_url="http://h:2/v1")
    assert model.describe()["base_url"] == "http://h:2/v1"


def test_openai_reads_base_url_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://from-env:9/v1/")
    monkeypatch.setenv("KUBEBENCH_OPENAI_BASE_URL", "http://kubebench-env:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    model = create_provider("openai:m")
    described = model.describe()
    assert described["base_url"] == "http://kubebench-env:9/v1"
    assert "sk-env" not in repr(described)


def test_models_list_command_shows_providers_and_configuration() -> None:
    result = CliRunner().invoke(app, ["models", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for text in (
        "openai",
        "hf:",
        "embedded:smollm2-135m-instruct",
        "OPENAI_API_KEY",
        "adapter",
        "KUBEBENCH_EMBEDDED_GGUF",
    ):
        assert text in result.output


def test_bench_generation_has_help() -> None:
    result = CliRunner().invoke(app, ["bench", "generation", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "--batch-size" in result.output and "--max-tokens" in result.output
