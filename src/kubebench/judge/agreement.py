"""Agreement statistics for calibration: Cohen's kappa and ROC AUC, written out plainly."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Literal

from kubebench.judge.rubric import SCORE_MAX, SCORE_MIN

SCORE_LEVELS = tuple(range(SCORE_MIN, SCORE_MAX + 1))


def cohen_kappa(
    a: Sequence[int],
    b: Sequence[int],
    *,
    weights: Literal["none", "quadratic"] = "none",
    levels: Sequence[int] = SCORE_LEVELS,
) -> float | None:
    """Cohen's kappa of two raters over `levels`, plain or quadratic-weighted.

    kappa = 1 - sum(w * observed) / sum(w * expected), with w = 0 on the diagonal and
    1 (plain) or ((i - j) / (k - 1))^2 (quadratic) elsewhere. None when undefined: no
    pairs, or chance disagreement is zero (both raters gave one and the same level).
    """
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    if not a:
        return None
    index = {level: i for i, level in enumerate(levels)}
    k, n = len(levels), len(a)
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[index[x]][index[y]] += 1 / n
    row = [sum(observed[i]) for i in range(k)]
    col = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def weight(i: int, j: int) -> float:
        if weights == "quadratic":
            return ((i - j) / (k - 1)) ** 2
        return 0.0 if i == j else 1.0

    disagreement = sum(weight(i, j) * observed[i][j] for i in range(k) for j in range(k))
    chance = sum(weight(i, j) * row[i] * col[j] for i in range(k) for j in range(k))
    if chance == 0:
        return None
    return 1 - disagreement / chance


def raw_agreement(a: Sequence[int], b: Sequence[int]) -> float | None:
    """The fraction of items both raters scored the same, or None with no items."""
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    if not a:
        return None
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """ROC AUC: the chance a random positive scores above a random negative (ties 1/2).

    None when there is no positive or no negative item.
    """
    if len(scores) != len(positive):
        raise ValueError("one label per score")
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def mean_pairwise_kappa(
    ratings: Sequence[Sequence[int]], *, weights: Literal["none", "quadratic"] = "quadratic"
) -> float | None:
    """The mean kappa over every pair of rating runs (e.g. repeated judgings).

    Each run rates the same items in the same order. Undefined pairs are skipped; None
    when fewer than two runs or no pair is defined.
    """
    values = [
        kappa
        for a, b in combinations(ratings, 2)
        if (kappa := cohen_kappa(a, b, weights=weights)) is not None
    ]
    return sum(values) / len(values) if values else None
