"""Separation with a magnitude model (U-Net, C-U-Net): masks at the model's rate, stems at full band.

Per block: the mono down-mix, resampled to the model's rate, is cut into patches (the card's shape) that
overlap and are cross-faded; the network's estimates divided by the mixture's magnitude are ratio masks.
A C-U-Net computes all its targets in the same batches. The masks are then mapped onto the STFT of the
input at its own rate and channel count (bands.py), so every stem keeps the input's band, stereo image
and the mixture's phase; ``wiener`` > 0 refines them there with the multichannel Wiener filter (with
``extend="zero"`` it also turns the residual stem on: the band above the model's is all the residual's).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import audio
from ..errors import InputError
from .separator import Separator
from .streaming import Block, SeparateConfig, Source, blocks, overlap_add, patch_starts
from .wiener import wiener


def wiener_settings(cfg: SeparateConfig) -> SeparateConfig:
    """``cfg`` as a magnitude model separates with it: with ``wiener`` and ``extend="zero"``, ``residual`` too,
    because every mask is zero above the model's band and so is every Wiener estimate there: only a residual
    stem keeps that band, and the stems then add up to the input as the filter promises."""
    return dataclasses.replace(cfg, residual=True) if cfg.wiener and cfg.extend == "zero" else cfg


class MaskSeparator(Separator):
    """The separator of a U-Net or C-U-Net (see the module's docstring); its network runs with each batch norm
    that can be folded into the convolution before it folded in. A C-U-Net's targets are selected by their
    conditions: a source's one-hot, a combination's the sum of its sources'.

    Raises:
        InputError: the card is a Y-Net's, or ``cfg`` picks a target the model does not separate.
        ValueError: a patch overlap above half a patch.
    """

    def __init__(self, model, card, cfg: SeparateConfig = SeparateConfig()):
        if card.model not in ("unet", "cunet"):
            raise InputError(None, f"a {card.model} is not a magnitude model")
        from .fold import inference_model

        super().__init__(inference_model(model), card, wiener_settings(cfg))
        patch_starts(card.patch_frames, card.patch_frames, cfg.patch_overlap)  # refuses an overlap too large
        if card.model == "cunet":
            # a source's one-hot; a combination's, the sum of its sources' (as the store indexed it)
            members = {t: (t,) for t in card.conditions} | dict(card.combinations)
            vectors = [[float(s in members[t]) for s in card.conditions] for t in self.targets]
            self.conditions = np.array(vectors, np.float32).reshape(-1, *card.condition_shape)

    @property
    def covers_mixture(self) -> bool:
        """Whether the targets' estimates are meant to add up to the mixture: a C-U-Net's when every source it
        was trained on is separated. Otherwise the Wiener filter weighs the residual as one more source."""
        return self.card.model == "cunet" and set(self.targets) == set(self.card.conditions)

    def _run_model(self, patches: np.ndarray) -> np.ndarray:
        """(P, bins, frames) magnitudes -> (targets, P, bins, frames) estimates, in fixed-size batches."""
        n, b = len(patches), self.cfg.batch_size
        jobs = [(t, i) for t in range(len(self.targets)) for i in range(n)]
        out = np.empty((len(self.targets), *patches.shape), np.float32)
        x = np.zeros((b, *patches.shape[1:], 1), np.float32)  # one batch shape: traced once
        z = np.zeros((b, *self.card.condition_shape), np.float32)
        for first in range(0, len(jobs), b):
            chunk = jobs[first : first + b]
            x[: len(chunk), ..., 0] = patches[[i for _, i in chunk]]
            if self.card.model == "unet":
                y = self.model.predict_on_batch(x)
            else:
                z[: len(chunk)] = self.conditions[[t for t, _ in chunk]]
                y = self.model.predict_on_batch([x, z])
            y = np.asarray(y, np.float32)[..., 0]
            for k, (t, i) in enumerate(chunk):
                out[t, i] = y[k]
        return out

    def _masks(self, mono_spec: np.ndarray, scale: float) -> np.ndarray:
        """(bins + 1, T) mono mixture STFT at the model's rate -> (targets, bins + 1, T) masks in [0, 1]."""
        bins, length = self.card.patch_bins, self.card.patch_frames
        mag = np.abs(mono_spec[:bins]) / np.float32(scale)  # the Nyquist bin is not modelled
        frames = mag.shape[1]
        starts = patch_starts(frames, length, self.cfg.patch_overlap)
        padded = np.zeros((bins, starts[-1] + length), np.float32)
        padded[:, :frames] = mag
        patches = np.stack([padded[:, s : s + length] for s in starts])
        estimate = overlap_add(self._run_model(patches), starts, frames, self.cfg.patch_overlap)
        with np.errstate(divide="ignore", invalid="ignore"):
            mask = np.where(mag > 0, estimate / mag, 0.0).clip(0, 1).astype(np.float32)
        return np.concatenate([mask, mask[:, -1:]], axis=1)  # Nyquist: as its neighbour, as the original

    def _model_input(self, x: np.ndarray, rate: int) -> np.ndarray:
        return audio.stft(audio.resample(x.mean(0, keepdims=True), rate, self.stft.sample_rate)[0], self.stft)

    def _analyse(self, x: np.ndarray, rate: int, scale: float) -> np.ndarray:
        """The network's part of a block: (channels, n) at ``rate`` -> masks at the model's rate."""
        return self._masks(self._model_input(self._padded(x, rate), rate), scale)

    def _padded(self, x: np.ndarray, rate: int) -> np.ndarray:
        """``x``, with silence after it when it is shorter than one STFT frame at either rate."""
        shortest = max(self.band_map(rate).target.n_fft, int(np.ceil(self.stft.n_fft * rate / self.stft.sample_rate)))
        return np.pad(x, ((0, 0), (0, shortest - x.shape[1]))) if x.shape[1] < shortest else x

    def _separate_block(self, x: np.ndarray, rate: int, masks: np.ndarray) -> np.ndarray:
        """(channels, n) at ``rate`` and its masks -> (targets, channels, n) at ``rate``, full band."""
        n, x = x.shape[1], self._padded(x, rate)
        bands = self.band_map(rate)
        spec = audio.stft(x, bands.target, frames_first=True)  # (channels, frames, bins) at the input's rate
        if self.cfg.wiener:
            full = bands(masks, spec.shape[-2])
            swap = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731  the filter takes (..., bins, frames)
            est = wiener(
                swap(full[:, None] * spec[None]),
                swap(spec),
                self.cfg.wiener,
                complete=self.covers_mixture,
            )
            return audio.istft(est, bands.target, length=x.shape[1])[..., :n]
        # one target per thread, two at a time (the FFT and numpy release the GIL; measured on Zen 4 with the
        # network's threads running beside them: 5 to 8 % less separation time than one at a time), the mask
        # applied chunk by chunk inside the inverse, written in place: little memory in flight, and above the
        # model's band one mask value per frame. Each stem is laid out as (samples, channels), the order audio
        # files interleave them in, so writing it copies nothing.
        out = np.empty((len(masks), x.shape[1], x.shape[0]), np.float32).transpose(0, 2, 1)
        compact = bands(masks, spec.shape[-2], compact=True)

        def inverse(target: int) -> None:
            audio.istft(spec, bands.target, x.shape[1], frames_first=True, mask=compact[target], out=out[target])

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(inverse, range(len(compact))))  # list(): an inverse's error is raised here
        return out[..., :n]

    def input_scale(self, source: Source) -> float:
        """The track's largest STFT magnitude of the mono mix at the model's rate (the training scale), in the
        pass that checks every sample."""

        def peak(x: np.ndarray) -> float:
            return float(np.abs(self._model_input(self._padded(x, source.rate), source.rate)).max())

        return max(source.scan(int(self.cfg.block_seconds * source.rate), peak)) or 1.0

    @property
    def patches_per_batch(self) -> int:
        """The fewest patches of a block whose jobs (a patch for each target) fill whole batches."""
        return self.cfg.batch_size // math.gcd(self.cfg.batch_size, len(self.targets))

    def block_seconds(self, seconds: float | None = None) -> float:
        """The block length nearest ``seconds`` (default ``cfg.block_seconds``) whose patches (context
        included) fill whole batches exactly: no network work on padding. 20 s with 1 s of context: 26.5 s,
        8 patches of each target; 0 s: the shortest such block (12.5 s, 4 patches of each of four targets)."""
        length, hop, overlap = self.card.patch_frames, self.stft.hop, self.cfg.patch_overlap
        per_batch = self.patches_per_batch
        seconds = self.cfg.block_seconds if seconds is None else seconds
        frames = (seconds + 2 * self.cfg.context_seconds) * self.stft.sample_rate / hop
        patches = (frames - length) / (length - overlap) + 1
        patches = max(per_batch, round(patches / per_batch) * per_batch)
        frames = length + (length - overlap) * (patches - 1)
        return (frames - 1) * hop / self.stft.sample_rate - 2 * self.cfg.context_seconds

    def _separated(self, source: Source, visual, scale: float | None) -> Iterator[tuple[Block, np.ndarray]]:
        scale = self.input_scale(source) if scale is None else scale
        cfg = dataclasses.replace(self.cfg, block_seconds=self.block_seconds())
        for block in blocks(
            source,
            cfg,
            analyse=lambda x, lo: self._analyse(x, source.rate, scale),  # the network, a block ahead
            first_seconds=self.block_seconds(0.0),  # one batch's worth: the pipeline fills sooner
        ):
            yield block, self._separate_block(block.x, source.rate, block.analysis)

    def warm_up(self) -> None:
        """Trace the network once on its batch shape, so the first block does not pay for it."""
        self._run_model(np.zeros((1, self.card.patch_bins, self.card.patch_frames), np.float32))
