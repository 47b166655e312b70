"""Oracle estimates that put a model's scores in context (computed on the same tracks as the model's).

``mixture``: the mixture itself as every source's estimate, the lower bound any separation must beat.
``IRM1`` / ``IRM2``: the ideal ratio masks |S_j|^a / sum_k |S_k|^a (a = 1, 2; the second is the ideal
Wiener filter) applied to the mixture STFT, the upper bounds for a masking model with the mixture phase.
"""

from __future__ import annotations

import numpy as np

from .. import audio

ORACLES = ("mixture", "IRM1", "IRM2")


def ideal_ratio_mask(specs: np.ndarray, alpha: float) -> np.ndarray:
    """(sources, bins, frames) complex -> (sources, bins, frames) masks in [0, 1] summing to one."""
    power = np.abs(specs) ** alpha
    total = power.sum(0, keepdims=True)
    return np.divide(power, total, out=np.full_like(power, 1 / len(specs)), where=total > 0)


def oracle_estimates(
    specs: np.ndarray, mix_spec: np.ndarray, stft: audio.StftConfig, length: int
) -> dict[str, np.ndarray]:
    """Sources' (sources, bins, frames) and the mixture's STFT -> {oracle: (sources, samples) estimates}."""
    mixture = audio.istft(mix_spec, stft, length=length)
    out = {"mixture": np.repeat(mixture[None], len(specs), 0)}
    for name, alpha in (("IRM1", 1.0), ("IRM2", 2.0)):
        out[name] = audio.istft(ideal_ratio_mask(specs, alpha) * mix_spec, stft, length=length)
    return out
