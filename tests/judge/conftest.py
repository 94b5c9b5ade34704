"""Fixtures of the judge tests: real grader evidence for a failing answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.kubeconfig import Connection
from kubebench.grading.verdict import Verdict
from kubebench.tasks.schema import Task
from tests.judge.doubles import ROLE_TASK, WILDCARD_ANSWER


@pytest.fixture(scope="session")
def role_task() -> Task:
    return ROLE_TASK


@pytest.fixture(scope="session")
async def failing_verdict(connection: Connection) -> AsyncIterator[Verdict]:
    """WILDCARD_ANSWER graded by the real grading pipeline on the real control plane."""
    from kubebench.grading.pipeline import grade_answer

    async with KubeClient(connection) as kube:
        verdict = await grade_answer(ROLE_TASK, WILDCARD_ANSWER, kube, wait_for_cleanup=True)
    yield verdict
