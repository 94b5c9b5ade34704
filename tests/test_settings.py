"""The one settings object: environment overrides, per-user folders, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.settings import settings

VARIABLES = (
    defaults.CACHE_DIR_ENV,
    defaults.STATE_DIR_ENV,
    defaults.ASSETS_ENV,
    defaults.ENVTEST_ASSETS_ENV,
    defaults.KUBECONFIG_ENV,
    defaults.PROGRESS_INTERVAL_ENV,
    defaults.EMBEDDED_GGUF_ENV,
    *defaults.OPENAI_BASE_URL_ENVS,
    *defaults.OPENAI_API_KEY_ENVS,
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def test_defaults_are_the_per_user_folders_and_defaults_py(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    got = settings()
    assert got.cache_dir == tmp_path / ".cache" / "kubebench"
    assert got.state_dir == tmp_path / ".local" / "state" / "kubebench"
    assert got.binary_cache_dir == got.cache_dir / "bin" / defaults.KUBERNETES_VERSION
    assert got.progress_interval_s == defaults.PROGRESS_INTERVAL_S
    assert got.assets_dir is None and got.openai_api_key is None and got.kubeconfig is None


def test_xdg_folders_and_explicit_overrides(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    clean_env.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert settings().cache_dir == tmp_path / "xdg-cache" / "kubebench"
    assert settings().state_dir == tmp_path / "xdg-state" / "kubebench"
    clean_env.setenv(defaults.CACHE_DIR_ENV, str(tmp_path / "mine"))
    clean_env.setenv(defaults.STATE_DIR_ENV, "")  # empty is unset, as before
    assert settings().response_cache_path == tmp_path / "mine" / "responses.sqlite"
    assert settings().state_dir == tmp_path / "xdg-state" / "kubebench"


def test_environment_overrides_each_field(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv(defaults.PROGRESS_INTERVAL_ENV, "0.25")
    clean_env.setenv(defaults.ASSETS_ENV, str(tmp_path / "bin"))
    clean_env.setenv(defaults.EMBEDDED_GGUF_ENV, "/models/x.gguf")
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    clean_env.setenv("OPENAI_API_KEY", "sk-plain")
    got = settings()
    assert got.progress_interval_s == 0.25
    assert got.assets_dir == tmp_path / "bin"
    assert got.embedded_gguf == Path("/models/x.gguf")
    assert got.openai_base_url == "http://127.0.0.1:9/v1"
    assert got.openai_api_key is not None and got.openai_api_key.get_secret_value() == "sk-plain"
    assert "sk-plain" not in repr(got)  # a key never shows in logs or tracebacks
    # KubeBench's own name wins over the generic one.
    clean_env.setenv("KUBEBENCH_OPENAI_API_KEY", "sk-kubebench")
    assert settings().openai_api_key.get_secret_value() == "sk-kubebench"  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_bad_value_is_a_one_line_user_error_naming_the_variable(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    clean_env.setenv(defaults.PROGRESS_INTERVAL_ENV, value)
    with pytest.raises(UserError) as caught:
        settings()
    line = caught.value.one_line()
    assert "\n" not in line
    assert defaults.PROGRESS_INTERVAL_ENV in line and repr(value) in line


def test_the_cli_prints_a_bad_value_in_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), defaults.STATE_DIR_ENV: str(tmp_path)}
    env[defaults.PROGRESS_INTERVAL_ENV] = "soon"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    result = subprocess.run(
        [sys.executable, "-m", "kubebench.cli.main", "cluster", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and defaults.PROGRESS_INTERVAL_ENV in lines[0], result.stderr
