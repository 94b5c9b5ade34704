"""The statistics reports print: Wilson intervals, pass^k, paired bootstrap, McNemar."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Rate:
    """k successes out of n, with its Wilson score interval."""

    k: int
    n: int
    low: float | None
    high: float | None

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"k": self.k, "n": self.n, "rate": self.value, "ci95": [self.low, self.high]}


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    """The Wilson score interval of k/n (scipy's binomtest), None bounds when n = 0."""
    if n == 0:
        return Rate(k, n, None, None)
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Rate(k, n, float(ci.low), float(ci.high))


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 < q < 1, in hundredths) of `values`, inclusive method; None
    for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k samples drawn without replacement from n (c correct) all
    pass, C(c, k) / C(n, k) — the consistency an operator relies on."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n} c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n} k={k}")
    return comb(c, k) / comb(n, k)


def mean_pass_hat_k(counts: Sequence[tuple[int, int]], k: int) -> float | None:
    """Mean pass^k over tasks given (n, c) per task; tasks with n < k are left out."""
    values = [pass_hat_k(n, c, k) for n, c in counts if n >= k]
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class PairedDifference:
    """mean(b) − mean(a) over paired units, with a cluster bootstrap interval."""

    n: int
    delta: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "delta": self.delta, "ci95": [self.low, self.high]}


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    clusters: Sequence[str] | None = None,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """Percentile bootstrap of mean(b − a), resampling whole clusters (tasks, when a task
    has several samples) with replacement; seeded, so a report is reproducible."""
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    n = len(a)
    if n == 0:
        return PairedDifference(0, None, None, None)
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    names = list(clusters) if clusters is not None else [str(i) for i in range(n)]
    order = sorted(set(names))
    index = {name: i for i, name in enumerate(order)}
    ids = np.array([index[name] for name in names])
    sums = np.bincount(ids, weights=diff, minlength=len(order))
    sizes = np.bincount(ids, minlength=len(order)).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(order), size=(resamples, len(order)))
    means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedDifference(n, float(diff.mean()), float(low), float(high))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs (passed in
    a only vs in b only) against 1/2; 1 when there are none."""
    total = only_a + only_b
    if total == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(only_a, total, 0.5).pvalue)
