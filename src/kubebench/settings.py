"""Every environment variable KubeBench reads, in one settings object.

`settings()` reads the environment afresh each time (cheap, and tests change it); a bad
value is a `UserError` naming the variable, in one line. The variables' names and the
defaults live in `defaults.py`; per-user folders come from platformdirs (on Linux
`$XDG_CACHE_HOME/kubebench`, else `~/.cache/kubebench`, and likewise `~/.local/state`).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import AliasChoices as Env
from pydantic import Field, PositiveFloat, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubebench import defaults
from kubebench.errors import UserError


class Settings(BaseSettings):
    """What the environment says; each field names the variables it reads, first wins."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    cache_dir: Path = Field(
        default_factory=lambda: platformdirs.user_cache_path(defaults.APP_NAME, appauthor=False),
        validation_alias=Env(defaults.CACHE_DIR_ENV),
    )
    state_dir: Path = Field(
        default_factory=lambda: platformdirs.user_state_path(defaults.APP_NAME, appauthor=False),
        validation_alias=Env(defaults.STATE_DIR_ENV),
    )
    # Folders of prebuilt control-plane binaries, looked in before the cache.
    assets_dir: Path | None = Field(None, validation_alias=Env(defaults.ASSETS_ENV))
    envtest_assets_dir: Path | None = Field(None, validation_alias=Env(defaults.ENVTEST_ASSETS_ENV))
    kubeconfig: str | None = Field(None, validation_alias=Env(defaults.KUBECONFIG_ENV))
    progress_interval_s: PositiveFloat = Field(
        defaults.PROGRESS_INTERVAL_S, validation_alias=Env(defaults.PROGRESS_INTERVAL_ENV)
    )
    embedded_gguf: Path | None = Field(None, validation_alias=Env(defaults.EMBEDDED_GGUF_ENV))
    openai_base_url: str | None = Field(None, validation_alias=Env(*defaults.OPENAI_BASE_URL_ENVS))
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=Env(*defaults.OPENAI_API_KEY_ENVS)
    )

    @property
    def binary_cache_dir(self) -> Path:
        """Where `kubebench cluster build` installs the binaries for the pinned version."""
        return self.cache_dir / "bin" / defaults.KUBERNETES_VERSION

    @property
    def response_cache_path(self) -> Path:
        """The SQLite response cache shared by every run of this user."""
        return self.cache_dir / "responses.sqlite"


def settings() -> Settings:
    """The settings the environment gives now; UserError (one line) on a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        raise UserError(
            f"bad environment variable {name}={first['input']!r}: {first['msg']}",
            hint="fix or unset it",
        ) from None
