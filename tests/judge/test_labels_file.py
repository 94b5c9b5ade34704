"""The shipped human labels: well formed, big enough, and their grades reproducible."""

from __future__ import annotations

from collections import Counter

import pytest

from kubebench.cluster.client import KubeClient
from kubebench.cluster.kubeconfig import Connection
from kubebench.judge.calibrate import SHIPPED_LABELS, load_labels
from kubebench.judge.rubric import CRITERION_NAMES, RUBRIC_VERSION


def test_shipped_labels_are_complete_and_varied() -> None:
    labels = load_labels(SHIPPED_LABELS)
    assert len(labels) >= 30
    assert len({label.key for label in labels}) == len(labels), "every attempt once"
    for label in labels:
        assert label.task is not None and label.task.id == label.task_id
        assert label.verdict is not None and label.verdict.task_id == label.task_id
        assert label.passed == label.verdict.success
        assert label.rubric_version == RUBRIC_VERSION
        assert label.reviewer
    passed = Counter(label.passed for label in labels)
    assert passed[True] >= 5 and passed[False] >= 5
    for name in CRITERION_NAMES:
        assert len({label.scores[name] for label in labels}) >= 3, f"{name} barely varies"


@pytest.mark.slow
async def test_shipped_verdicts_are_reproduced_by_the_grader(connection: Connection) -> None:
    from kubebench.grading.pipeline import grade_answer

    labels = load_labels(SHIPPED_LABELS)
    async with KubeClient(connection) as kube:
        for label in labels:
            assert label.task is not None and label.answer is not None
            verdict = await grade_answer(label.task, label.answer, kube, wait_for_cleanup=True)
            assert (verdict.stage, verdict.success) == (
                label.verdict.stage if label.verdict else None,
                label.passed,
            ), label.key
