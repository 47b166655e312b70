"""Multichannel Wiener post-filter for masked STFT estimates (the EM of Duong, Vincent & Gribonval 2010,
as Open-Unmix and Spleeter apply it after their networks).

Each source j has a power spectral density v_j(f, t) and a spatial covariance R_j(f) (channels x
channels). An iteration re-estimates both from the current estimates, then sets every estimate to its
posterior mean given the mixture: y_j = v_j R_j (sum_k v_k R_k)^-1 x. The estimates then add up to the
mixture exactly, which per-source masks do not guarantee, and stereo estimates get their own spatial image.
"""

from __future__ import annotations

import numpy as np


def wiener(estimates: np.ndarray, mixture: np.ndarray, iterations: int = 1, complete: bool = True) -> np.ndarray:
    """(sources, channels, bins, frames) complex estimates and the (channels, bins, frames) mixture ->
    filtered estimates of the same shape. With ``complete=False`` the estimates do not cover the mixture
    (a dedicated model's one target): the residual joins as one more source, and is not returned."""
    if estimates.ndim != 4 or estimates.shape[1:] != mixture.shape:
        raise ValueError(f"estimates {estimates.shape} must be (sources, *{mixture.shape})")
    n = len(estimates)
    y = np.asarray(estimates, np.complex128)
    x = np.asarray(mixture, np.complex128)
    if not complete:
        y = np.concatenate([y, (x - y.sum(0))[None]])
    channels = x.shape[0]
    eye = np.eye(channels)
    for _ in range(iterations):
        v = np.mean(np.abs(y) ** 2, axis=1)  # (J, F, T)
        # R_j(f) = sum_t y y^H / sum_t v, kept positive definite for silent bins
        r = np.einsum("jaft,jbft->jfab", y, y.conj()) / (v.sum(-1)[..., None, None] + 1e-12)
        r = r + 1e-8 * eye
        cov = np.einsum("jft,jfab->ftab", v, r)
        floor = 1e-10 * max(float(np.mean(np.abs(x) ** 2)), 1e-20)
        inv = np.linalg.inv(cov + floor * eye)  # (F, T, I, I)
        xt = np.moveaxis(x, 0, -1)  # (F, T, I)
        w = np.einsum("ftab,ftb->fta", inv, xt)
        y = np.einsum("jft,jfab,ftb->jaft", v, r, w)
    return y[:n].astype(np.complex64)
