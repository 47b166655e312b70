"""Paired comparisons of two models on the same tracks: the median difference with a bootstrap interval.

On four or fifty test songs a difference of medians says little by itself. For two models scored on the
same tracks, the per-track differences are what varies; their median gets a 95 % percentile-bootstrap
confidence interval (tracks resampled with replacement, seeded) and the Wilcoxon signed-rank p-value
(scipy), so that "matches" and "beats" can be read against the spread.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    median: float  # of the per-track differences a - b, dB
    low: float  # the confidence interval of that median
    high: float
    p_value: float  # Wilcoxon signed-rank, two-sided; 1.0 when every difference is 0
    n: int  # tracks with both scores finite
    dropped: int  # tracks where either score is NaN or missing

    def __str__(self) -> str:
        return f"{self.median:+.2f} dB [{self.low:+.2f}, {self.high:+.2f}], p = {self.p_value:.3f}, n = {self.n}"


def paired_difference(a, b, level: float = 0.95, resamples: int = 10000, seed: int = 0) -> PairedDifference:
    """The per-track difference ``a - b`` of two models' scores on the same tracks (aligned arrays).

    Args:
        a, b: per-track scores (dB) of the two models, track i of ``a`` being track i of ``b``.
        level: the confidence level of the interval.
        resamples: bootstrap resamples of the tracks.
        seed: the resampling's seed (the same inputs give the same interval).
    Returns:
        A :class:`PairedDifference`; NaN median and interval when no track has both scores.
    """
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of one length, got {a.shape} and {b.shape}")
    both = np.isfinite(a) & np.isfinite(b)
    d = a[both] - b[both]
    if not len(d):
        return PairedDifference(np.nan, np.nan, np.nan, np.nan, 0, len(a))
    picks = np.random.default_rng(seed).integers(0, len(d), (resamples, len(d)))
    medians = np.median(d[picks], axis=1)
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2])
    p = 1.0 if not np.any(d) else float(wilcoxon(d).pvalue)
    return PairedDifference(float(np.median(d)), float(low), float(high), p, len(d), int((~both).sum()))
