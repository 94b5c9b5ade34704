"""Report statistics against values worked out by hand or in the literature."""

from __future__ import annotations

import pytest

from kubebench.report.stats import (
    mcnemar_exact,
    mean_pass_hat_k,
    paired_bootstrap,
    pass_hat_k,
    wilson,
)
from kubebench.runner.passk import pass_at_k


def test_wilson_intervals() -> None:
    half = wilson(5, 10)
    assert (half.low, half.high) == (
        pytest.approx(0.2366, abs=1e-4),
        pytest.approx(0.7634, abs=1e-4),
    )
    none = wilson(0, 10)
    assert none.low == pytest.approx(0.0, abs=1e-12)
    assert none.high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0).as_dict() == {"k": 0, "n": 0, "rate": None, "ci95": [None, None]}


def test_pass_hat_k_is_the_chance_all_k_pass() -> None:
    assert pass_hat_k(5, 3, 2) == pytest.approx(3 / 10)  # C(3,2) / C(5,2)
    assert pass_hat_k(5, 1, 2) == 0.0
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(5, 3, 1) == pytest.approx(pass_at_k(5, 3, 1))  # k = 1: the same
    assert mean_pass_hat_k([(3, 3), (3, 0), (1, 1)], 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_hat_k(3, 4, 1)


def test_mcnemar_exact() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 * 0.5**5)
    assert mcnemar_exact(3, 3) == pytest.approx(1.0)


def test_paired_bootstrap() -> None:
    same = paired_bootstrap([1, 0, 1], [1, 0, 1])
    assert (same.delta, same.low, same.high) == (0.0, 0.0, 0.0)
    better = paired_bootstrap([0, 0, 0, 0], [1, 1, 1, 1])
    assert (better.delta, better.low, better.high) == (1.0, 1.0, 1.0)
    a = [1, 0, 1, 1, 0, 1, 0, 1, 1, 0] * 5
    b = [1, 1, 1, 1, 0, 1, 1, 1, 1, 0] * 5
    d = paired_bootstrap(a, b)
    assert d.delta == pytest.approx(0.2)
    assert d.low is not None and d.high is not None and d.low < 0.2 < d.high
    assert paired_bootstrap(a, b) == d  # seeded: reproducible
    # Resampling whole tasks: two samples of one task move together.
    clustered = paired_bootstrap([0, 0, 1, 1], [1, 1, 1, 1], ["t1", "t1", "t2", "t2"])
    assert clustered.delta == pytest.approx(0.5)
    assert clustered.low == 0.0 and clustered.high == 1.0
    assert paired_bootstrap([], []).delta is None
