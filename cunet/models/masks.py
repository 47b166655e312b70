"""Applying Y-Net's complex mask to a full-resolution mixture spectrogram (keras.ops, any backend)."""

from __future__ import annotations

from keras import ops


def network_input(mixture, step: int = 2):
    """The Y-Net's input from a complex mixture STFT (..., 512, T): every ``step``-th bin, as (re, im)."""
    coarse = mixture[..., ::step, :]
    return ops.stack([ops.real(coarse), ops.imag(coarse)], axis=-1)


def apply_complex_mask(logits, mixture, n_sources: float = 1.0):
    """Estimate = (n_sources * mask, repeated to full frequency resolution) x mixture.

    ``logits`` (B, F/2, T, 2) are used raw, as the original does at inference (they approximate the ratio
    mask itself); ``mixture`` (B, F, T, 2) is the complex mixture spectrogram fed to the network.
    """
    mask = ops.repeat(logits, mixture.shape[1] // logits.shape[1], axis=1) * n_sources
    mr, mi = mask[..., 0], mask[..., 1]
    xr, xi = mixture[..., 0], mixture[..., 1]
    return ops.stack([mr * xr - mi * xi, mr * xi + mi * xr], axis=-1)
