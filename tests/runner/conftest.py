"""Fixtures of the runner tests: a response cache and run folders of their own, and the
arguments that point `kubebench run` at the session's real control plane."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubebench.cluster.controlplane import ControlPlane


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test's response cache out of the user's."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("KUBEBENCH_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def cluster_args(control_plane: ControlPlane) -> list[str]:
    """CLI flags that grade on the session's control plane instead of starting one."""
    assert control_plane.kubeconfig_path is not None
    return ["--kubeconfig", str(control_plane.kubeconfig_path), "--allow-external-writes"]


@pytest.fixture(scope="session")
def grade_answer():
    from kubebench.grading.pipeline import grade_answer

    return grade_answer
