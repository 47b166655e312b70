"""Paired comparisons of two models on the same tracks: the median difference with a distribution-free interval.

On a few test songs a difference of medians says little by itself. For two models scored on the same
tracks, the per-track differences are what varies. Their median gets the order-statistic confidence interval
[d_(k), d_(n+1-k)] of the sorted differences: whatever their distribution, the true median lies below
d_(k) only when fewer than k of n differences do, a Binomial(n, 1/2) event, so the interval covers it with
probability 1 - 2 P(B <= k - 1) exactly (at least that with ties). The narrowest such interval whose
coverage reaches the level is used and its coverage reported. A percentile bootstrap of the median, used
before, covered about 87 % at n = 4 and 93 % at n = 8 where it claimed 95 %. Below n = 6 no pair reaches
95 % (n = 5: 93.8 %, n = 4: 87.5 %): then there is no interval, and the text says so.

The p-value is the exact two-sided sign test of "the median difference is 0", the test this interval is the
dual of (with no zero difference, the interval at coverage 1 - alpha leaves out 0 exactly when the sign test
gives p <= alpha). Wilcoxon's signed-rank test assumes differences symmetric about their median, which
per-track dB differences need not be. With n nonzero differences the sign test's p cannot go below
2 / 2^n (0.125 at n = 4), reported with it.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """How much better model a scores than model b over the same tracks: the median per-track difference,
    its distribution-free interval and the sign test's p-value."""

    median: float  # of the per-track differences a - b, dB
    low: float  # the order-statistic interval of that median; NaN when the tracks are too few for the level
    high: float
    coverage: float  # the interval's exact coverage, or, without one, the best any pair of tracks reaches
    level: float  # the coverage asked for
    p_value: float  # exact two-sided sign test on the nonzero differences; 1.0 when every one is 0
    p_min: float  # the smallest p-value the sign test can give with these tracks
    n: int  # tracks with both scores finite
    dropped: int  # tracks where either score is NaN, infinite or missing

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.low)

    def interval_text(self) -> str:
        """ "[-0.24, +0.50] (96.1 %)", or "too few tracks (n=4, best coverage 87.5 %)" without an interval."""
        if self.has_interval:
            return f"[{self.low:+.2f}, {self.high:+.2f}] ({self.coverage:.1%})"
        return f"too few tracks (n={self.n}, best coverage {self.coverage:.1%})"

    def p_text(self) -> str:
        """The sign test's p, with the smallest it could be where that is above 1 - level."""
        if math.isnan(self.p_value):
            return "–"
        floor = f" (min {self.p_min:.3f})" if self.p_min > 1 - self.level else ""
        return f"{self.p_value:.3f}{floor}"

    def __str__(self) -> str:
        return f"{self.median:+.2f} dB {self.interval_text()}, sign test p = {self.p_text()}, n = {self.n}"


@functools.cache
def order_statistic_ranks(n: int, level: float) -> tuple[int, float]:
    """The 1-based rank k of the narrowest interval [d_(k), d_(n+1-k)] of a median that covers it with
    probability >= ``level``, and that coverage.

    Args:
        n: the number of differences (>= 1).
        level: the coverage asked for, in (0, 1).
    Returns:
        (k, coverage); k = 0 when no pair reaches ``level``, the coverage then being that of the widest pair,
        [d_(1), d_(n)].
    """
    from scipy.stats import binom

    best, coverage = 0, 1 - 2 * binom.cdf(0, n, 0.5)
    for k in range(1, n // 2 + 1):  # coverage falls as k grows: the first k short of the level ends it
        this = 1 - 2 * binom.cdf(k - 1, n, 0.5)
        if this < level:
            break
        best, coverage = k, this
    return best, float(coverage)


def sign_test(d: np.ndarray) -> tuple[float, float]:
    """(p, the smallest p these tracks allow) of the exact two-sided sign test on the nonzero differences."""
    from scipy.stats import binom

    nonzero = d[d != 0]
    m = len(nonzero)
    if not m:
        return 1.0, 1.0
    fewer = int(min((nonzero > 0).sum(), (nonzero < 0).sum()))
    return float(min(1.0, 2 * binom.cdf(fewer, m, 0.5))), float(min(1.0, 2 * 0.5**m))


def paired_difference(a, b, level: float = 0.95) -> PairedDifference:
    """The per-track difference ``a - b`` of two models' scores on the same tracks (aligned arrays).

    Args:
        a, b: per-track scores (dB) of the two models, track i of ``a`` being track i of ``b``.
        level: the coverage the interval must reach.
    Returns:
        A :class:`PairedDifference`: NaN median and interval when no track has both scores; NaN interval
        (:meth:`PairedDifference.interval_text` says why) when the tracks are too few for ``level``.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of one length, got {a.shape} and {b.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    both = np.isfinite(a) & np.isfinite(b)
    d = np.sort(a[both] - b[both])
    n = len(d)
    if not n:
        return PairedDifference(np.nan, np.nan, np.nan, 0.0, level, np.nan, np.nan, 0, len(a))
    k, coverage = order_statistic_ranks(n, level)
    low, high = (float(d[k - 1]), float(d[n - k])) if k else (np.nan, np.nan)
    p, p_min = sign_test(d)
    return PairedDifference(float(np.median(d)), low, high, coverage, level, p, p_min, n, int((~both).sum()))
