"""run.json's package list names what kubebench really imports, and nothing it does not."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from kubebench.runner.provenance import INDIRECT_PACKAGES, RECORDED_PACKAGES, package_versions

SOURCE = Path(__file__).resolve().parents[2] / "src" / "kubebench"
# Rooms whose imports can change a run's results (grading, answering, scoring).
RESULT_ROOMS = ("cluster", "grading", "models", "runner", "scoring", "judge", "tasks")
# Imported there, but no run's result depends on their version.
NOT_RECORDED = {
    "cryptography": "certificates of the local control plane",
    "multidict": "aiohttp's header type",
    "pydantic_core": "part of pydantic",
    "rich": "terminal output",
    "typer": "the command line",
    "click": "the command line",
    "kubernetes": "only `kubebench bench cluster --compare-clients`",
    "scipy": "ROC AUC ranks of `kubebench bench metrics`",
}


def _imported_modules(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "kubebench"}


def _distribution(module: str) -> str:
    found = packages_distributions().get(module)
    return found[0] if found else module  # not installed here (bitsandbytes without CUDA)


def test_every_recorded_package_is_imported_by_kubebench_or_through_a_named_one() -> None:
    imported = {_distribution(m).lower() for m in _imported_modules(SOURCE)}
    for name in RECORDED_PACKAGES:
        if name in ("kubebench", *INDIRECT_PACKAGES):
            continue
        assert name.lower() in imported, f"{name} is recorded but kubebench never imports it"


def test_every_import_that_can_change_results_is_recorded() -> None:
    recorded = {n.lower() for n in RECORDED_PACKAGES}
    for room in RESULT_ROOMS:
        for module in _imported_modules(SOURCE / room):
            dist = _distribution(module)
            assert dist.lower() in recorded or dist in NOT_RECORDED or module in NOT_RECORDED, (
                f"{room}/ imports {module} ({dist}): record it in RECORDED_PACKAGES or say "
                "why not in NOT_RECORDED"
            )


def test_package_versions_lists_the_installed_ones() -> None:
    versions = package_versions()
    assert "kubebench" in versions and "pydantic" in versions and "aiohttp" in versions
    assert set(versions) <= set(RECORDED_PACKAGES)
