"""Fixtures of the report tests: the runner tests' cluster arguments and private cache."""

from __future__ import annotations

from tests.runner.conftest import cluster_args, private_cache

__all__ = ["cluster_args", "private_cache"]
