"""How singing test and training mixtures are made (NumPy only: scoring must not pull in TensorFlow)."""

from __future__ import annotations

import numpy as np

from ..singing_input import CLIP_SAMPLES


def clip_at(samples: np.ndarray, start: int) -> np.ndarray:
    """A Y-Net clip (CLIP_SAMPLES float32 samples) from ``start``, wrapped round where the array ends first."""
    x = np.asarray(samples[start : start + CLIP_SAMPLES], np.float32)
    return np.pad(x, (0, CLIP_SAMPLES - len(x)), mode="wrap") if len(x) < CLIP_SAMPLES else x


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to an RMS of 1 (a silent ``x`` stays silent rather than dividing by zero)."""
    x = x / max(float(np.abs(x).max()), 1e-8)
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-8)


def singing_levels(voice: np.ndarray, acc: np.ndarray, k: float, other: np.ndarray | None = None):
    """The original's mixing levels: every part at unit RMS, the voices at ``k`` times the accompaniment,
    then voice and accompaniment scaled together so that the louder peaks at 1."""
    voice, acc = k * unit_rms(voice), unit_rms(acc)
    peak = max(float(np.abs(voice).max()), float(np.abs(acc).max()), 1e-8)
    other = None if other is None else k * unit_rms(other) / peak
    return voice / peak, acc / peak, other
