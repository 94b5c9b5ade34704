"""`kubebench bench generation`: bad options are one-line user errors, before any load."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.errors import UserError

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--streams", "1,x"], "bad --streams"),
        (["--streams", "0,16"], "bad --streams"),
        (["--decoders", "handwritten,vllm"], "unknown --decoders vllm"),
        (["--decoders", "llama-server"], "unknown --decoders llama-server"),
        (["--dtype", "float8"], "unknown --dtype"),
    ],
)
def test_bad_options_are_user_errors(args: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        runner.invoke(app, ["bench", "generation", *args], catch_exceptions=False)
