"""Masks estimated at a model's rate, mapped onto the STFT of the input at its own rate and band.

A model sees a band-limited mono down-mix (0 to 4096 Hz for C-U-Net, 0 to 8192 Hz for Y-Net); the stems
must cover the input's whole band. So the input's own STFT is taken at its rate with the model's
resolution in seconds and hertz (hop and window scaled by the rate ratio), the masks are interpolated
linearly onto its bins and frames, and above the model's band they are extended as Spleeter does:
``average`` gives every higher bin the frame's mean mask over the model's band, ``zero`` silences it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .. import audio
from ..config import choices

Extension = Literal["average", "zero"]
EXTENSIONS = choices(Extension)


def fast_even(n: int) -> int:
    """The smallest even number >= ``n`` whose prime factors are 2, 3, 5 and 7 (fast for pocketfft)."""
    m = max(2, n + (n & 1))
    while True:
        k = m
        for p in (2, 3, 5, 7):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 2


def input_stft(model: audio.StftConfig, rate: int) -> audio.StftConfig:
    """The STFT at ``rate`` with ``model``'s hop and window length in seconds."""
    if rate == model.sample_rate:
        return model
    scale = rate / model.sample_rate
    return audio.StftConfig(rate, fast_even(round(model.n_fft * scale)), max(1, round(model.hop * scale)))


class BandMap:
    """Linear interpolation from the model's (bins, frames) grid onto the input STFT's, with the extension."""

    def __init__(self, model: audio.StftConfig, model_bins: int, target: audio.StftConfig, extend: str):
        if extend not in EXTENSIONS:
            raise ValueError(f"extend must be one of {EXTENSIONS}, got {extend!r}")
        self.model, self.target, self.extend = model, target, extend
        # fractional model bin of every input bin; those past the model's last bin are extended
        pos = np.arange(target.n_bins) * (target.sample_rate / target.n_fft) / (model.sample_rate / model.n_fft)
        self.inside = int(np.searchsorted(pos, model_bins - 1, side="right"))
        self.f0, self.fw = _neighbours(pos[: self.inside], model_bins)

    def frames(self, model_frames: int, frames: int, offset: float = 0.0):
        """Model frame neighbours of input frames centred ``offset`` seconds after the model's first."""
        times = offset + np.arange(frames) * self.target.hop / self.target.sample_rate
        return _neighbours(times * self.model.sample_rate / self.model.hop, model_frames)

    def __call__(self, masks: np.ndarray, frames: int, offset: float = 0.0, compact: bool = False) -> np.ndarray:
        """(..., model bins, model frames) -> (..., ``frames``, input bins), frames first as the input STFT
        is taken (:func:`audio.stft` with ``frames_first``), same dtype. With ``compact``, the bins up to the
        model's band and one more holding the extension, which :func:`audio.istft` applies to every bin above:
        the same stems, without a mask array the size of the input's spectrogram."""
        if masks.shape[-1] == 1:  # one frame: constant in time
            masks = np.repeat(masks, 2, axis=-1)
        masks = np.swapaxes(masks, -1, -2)  # (..., model frames, model bins): small, the input's are not
        t0, tw = self.frames(masks.shape[-2], frames, offset)
        tw = tw[:, None]
        # np.take: a gather along one axis, several times faster than the equivalent fancy index
        timed = np.take(masks, t0, axis=-2) * (1 - tw) + np.take(masks, t0 + 1, axis=-2) * tw
        bins = min(self.inside + 1, self.target.n_bins) if compact else self.target.n_bins
        out = np.empty((*masks.shape[:-2], frames, bins), masks.dtype)
        f0, fw = self.f0, self.fw
        out[..., : self.inside] = np.take(timed, f0, axis=-1) * (1 - fw) + np.take(timed, f0 + 1, axis=-1) * fw
        if self.extend == "zero":
            out[..., self.inside :] = 0
        else:
            out[..., self.inside :] = timed.mean(axis=-1, keepdims=True)
        return out


def _neighbours(pos: np.ndarray, size: int):
    """Left neighbour index (at most size - 2) and weight of the right one for positions clipped to the grid."""
    pos = np.clip(pos, 0, size - 1)
    if size == 1:
        return np.zeros(len(pos), np.int64), np.zeros(len(pos), np.float32)
    left = np.minimum(np.floor(pos).astype(np.int64), size - 2)
    return left, (pos - left).astype(np.float32)
