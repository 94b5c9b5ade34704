"""Fixtures of the report tests: the runner tests' arguments for the session's cluster.

Report tests run `kubebench run --no-cache`, so they need no private response cache.
"""

from __future__ import annotations

from tests.runner.conftest import cluster_args

__all__ = ["cluster_args"]
