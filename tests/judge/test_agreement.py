"""Kappa and AUC against values computed by hand."""

from __future__ import annotations

import pytest

from kubebench.judge.agreement import cohen_kappa, mean_pairwise_kappa, raw_agreement, roc_auc


def test_plain_kappa_matches_hand_computation() -> None:
    # 2x2 over levels (1, 2): observed agreement 0.7; marginals a=(0.5,0.5), b=(0.6,0.4)
    # chance agreement = 0.5*0.6 + 0.5*0.4 = 0.5, so kappa = (0.7-0.5)/(1-0.5) = 0.4.
    a = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    b = [1, 1, 1, 1, 2, 1, 1, 2, 2, 2]
    assert cohen_kappa(a, b, levels=(1, 2)) == pytest.approx(0.4)


def test_quadratic_kappa_matches_hand_computation() -> None:
    # Levels 1..3, weights ((i-j)/2)^2: 0, 1/4, 1.
    # a=[1,2,3,3], b=[1,3,3,2]: observed weighted disagreement = (0 + 1/4 + 0 + 1/4)/4 = 1/8.
    # marginals a=(1/4,1/4,1/2), b=(1/4,1/4,1/2); expected weighted disagreement:
    # sum_ij w_ij a_i b_j = 2*[(1/4)(1/4)(1/4) + (1/4)(1/2)(1) + (1/4)(1/2)(1/4)] = 0.34375
    # kappa = 1 - 0.125/0.34375 = 7/11 = 0.6363...
    a, b = [1, 2, 3, 3], [1, 3, 3, 2]
    assert cohen_kappa(a, b, weights="quadratic", levels=(1, 2, 3)) == pytest.approx(7 / 11)


def test_quadratic_kappa_punishes_far_misses_more_than_near_ones() -> None:
    truth = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
    near = [2, 2, 3, 4, 4, 1, 3, 3, 4, 5]
    far = [5, 2, 3, 4, 1, 1, 3, 3, 4, 5]
    assert cohen_kappa(truth, near, weights="quadratic") > cohen_kappa(
        truth, far, weights="quadratic"
    )


def test_perfect_agreement_is_one_and_constant_raters_are_undefined() -> None:
    assert cohen_kappa([1, 3, 5], [1, 3, 5], weights="quadratic") == pytest.approx(1.0)
    assert cohen_kappa([3, 3, 3], [3, 3, 3]) is None
    assert cohen_kappa([], []) is None


def test_raw_agreement() -> None:
    assert raw_agreement([1, 2, 3, 4], [1, 2, 4, 4]) == pytest.approx(0.75)
    assert raw_agreement([], []) is None


def test_auc_matches_hand_computation_with_ties() -> None:
    # positives 5, 4, 3; negatives 3, 1. Pairs: (5>3,5>1,4>3,4>1,3=3 -> 0.5,3>1) = 5.5/6.
    scores = [5, 4, 3, 3, 1]
    passed = [True, True, True, False, False]
    assert roc_auc(scores, passed) == pytest.approx(5.5 / 6)
    assert roc_auc([1, 2], [True, True]) is None
    assert roc_auc([1, 5], [True, False]) == pytest.approx(0.0)


def test_mean_pairwise_kappa_over_three_runs() -> None:
    r1, r2, r3 = [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 5, 4]
    expected = (
        1.0 + cohen_kappa(r1, r3, weights="quadratic") + cohen_kappa(r2, r3, weights="quadratic")
    ) / 3
    assert mean_pairwise_kappa([r1, r2, r3]) == pytest.approx(expected)
    assert mean_pairwise_kappa([r1]) is None
