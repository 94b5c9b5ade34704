"""The generator's data files load, type-checked; a YAML 1.1 surprise fails loudly."""

from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml

from kubebench.tasks.authoring import data_files
from kubebench.tasks.authoring.config_files import CONFIG_FILES, ENV_SETTINGS
from kubebench.tasks.authoring.pools import NamePools


def test_every_data_file_parses_and_is_read_by_the_generator() -> None:
    folder = resources.files("kubebench.tasks.authoring").joinpath("data")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    assert names == ["config_files.yaml", "phrases.yaml", "pools.yaml", "rbac.yaml", "secrets.yaml"]
    for name in names:
        assert isinstance(yaml.safe_load(folder.joinpath(name).read_text()), dict)
    assert "nginx.conf" in CONFIG_FILES and all(
        isinstance(v, str) for values in ENV_SETTINGS.values() for v in values
    )


@pytest.mark.parametrize("value", ["yes", "8080", "0755", "true", "1.5"])
def test_an_unquoted_scalar_that_is_not_a_string_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    pools = copy.deepcopy(data_files.read_data_file("pools.yaml")["test"])
    scalar = yaml.safe_load(value)
    assert not isinstance(scalar, str)  # YAML 1.1 read it as a bool or a number
    monkeypatch.setattr(data_files, "read_data_file", lambda name: {"test": pools})
    assert data_files.load_data("pools.yaml", NamePools, "test").envs[0] == "dev"
    pools["envs"][1] = scalar
    with pytest.raises(ValueError, match=r"bad generator data file pools\.yaml:test"):
        data_files.load_data("pools.yaml", NamePools, "test")
