"""Realistic configuration files for ConfigMap tasks, drawn with varied values
(`data/config_files.yaml`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from string import Template

from kubebench.tasks.authoring.data_files import load_data
from kubebench.tasks.authoring.drafting import Draw


@dataclass(frozen=True)
class ConfigFile:
    """A file body (a `string.Template`) and the values drawn into it, in draw order."""

    picks: dict[str, list[str]]
    body: str

    def render(self, draw: Draw, app: str) -> str:
        values = {name: draw.pick(choices) for name, choices in self.picks.items()}
        names = {"app": app, "app_snake": app.replace("-", "_"), "app_stem": app.split("-")[0]}
        return Template(self.body).substitute(values, **names)


CONFIG_FILES: dict[str, Callable[[Draw, str], str]] = {
    name: spec.render
    for name, spec in load_data("config_files.yaml", dict[str, ConfigFile], "files").items()
}

ENV_SETTINGS: dict[str, tuple[str, ...]] = load_data(
    "config_files.yaml", dict[str, tuple[str, ...]], "env_settings"
)
