"""Y-Net separation: the target singer's voice from a mixture and the singer's video, at full band.

Long inputs stream in blocks as the magnitude models' do. Within a block the network sees chunks of the
card's length (4 s: 65535 samples at 16384 Hz with their 100 video frames at 25 fps), starting every
``chunk_hop_frames`` video frames (3 s by default) so that neighbours share audio, which is cross-faded;
the last chunk is padded (silence, and the last video frame repeated), so no tail is dropped. The network
input is the chunk's mono mix at the level its training mixtures had: divided by its own peak (the card's
``mixture_level`` "peak", which holds for a file at any level) or, for models trained as the original was,
by the card's mixture slots (right only for mixtures built at that training level). Its
complex mask (logits, used as they are, as the original does at inference; every second bin, repeated
to all) is mapped onto the STFT of the chunk at the input's own rate and channels (bands.py), so the
estimate keeps the input's band above the model's 8192 Hz, its stereo image and its length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .. import audio
from ..errors import InputError
from ..singing_input import mouth_crops
from .separator import Separator
from .streaming import Block, SeparateConfig, Source, blocks, ramp


class YNetSeparator(Separator):
    """The separator of a Y-Net (see the module's docstring): the target singer's voice, with the singer's
    frames or landmarks where the model has a visual input.

    Raises:
        InputError: the card is not a Y-Net's, or ``cfg`` picks a target the model does not separate.
        ValueError: ``chunk_hop_frames`` not below a chunk's video frames (neighbouring chunks must overlap).
    """

    def __init__(self, model, card, cfg: SeparateConfig = SeparateConfig()):
        if card.model != "ynet":
            raise InputError(None, f"a {card.model} model is not a Y-Net")
        if not cfg.chunk_hop_frames < card.clip_frames:
            raise ValueError(
                f"chunk_hop_frames must be below a chunk's {card.clip_frames} frames, "
                f"got {cfg.chunk_hop_frames}: neighbouring chunks must share audio"
            )
        super().__init__(model, card, cfg)
        self.step = self.stft.n_bins // card.patch_bins  # the network sees every step-th bin

    @property
    def visual(self) -> str:
        return self.card.visual

    def check(self, source: Source, visual: np.ndarray | None = None, visual_name=None) -> None:
        """The frames (or landmarks) must cover the audio; one frame of rounding is forgiven."""
        if self.visual == "none":
            return
        what = "frames" if self.visual == "video" else "landmarks"
        if visual is None:
            raise InputError(source.name, f"this Y-Net ({self.visual}) needs the singer's {what}")
        needed = math.ceil(source.frames / source.rate * self.card.fps)
        if len(visual) < needed - 1:
            raise InputError(
                visual_name or f"the {what}",
                f"frames missing: the audio lasts {source.frames / source.rate:.2f} s, {needed} "
                f"frames at {self.card.fps} fps, but there are {len(visual)} "
                f"({len(visual) / self.card.fps:.2f} s)",
            )

    def _network_input(self, mono: np.ndarray, visual: np.ndarray | None, frame: int):
        level = max(float(np.abs(mono).max()), 1e-8) if self.card.mixture_level == "peak" else self.card.mixture_slots
        spec = audio.real_imag(audio.stft(mono / level, self.stft)[:: self.step])
        if self.visual == "none":
            return spec, None
        if visual is None:  # not reached: check() refuses a Y-Net with a visual input and no frames
            raise InputError(None, f"this Y-Net ({self.visual}) needs the singer's frames or landmarks")
        clip = visual[frame : frame + self.card.clip_frames]
        return spec, (mouth_crops(clip) if self.visual == "video" else clip.astype(np.float32))

    def _masks(self, inputs: list, b: int) -> np.ndarray:
        """Network inputs of up to ``b`` chunks -> (chunks, bins, frames) complex masks on the model's grid."""
        n = len(inputs)
        spec = np.zeros((b, *inputs[0][0].shape), np.float32)  # one batch shape per input: traced once
        spec[:n] = [s for s, _ in inputs]
        if self.visual == "none":
            logits = self.model.predict_on_batch(spec)
        else:
            vis = np.zeros((b, *inputs[0][1].shape), np.float32)
            vis[:n] = [v for _, v in inputs]
            logits = self.model.predict_on_batch([spec, vis])
        logits = np.asarray(logits, np.float32)[:n]
        return np.repeat(logits[..., 0] + 1j * logits[..., 1], self.step, axis=1).astype(np.complex64)

    def _separated(self, source: Source, visual, scale: float | None) -> Iterator[tuple[Block, np.ndarray]]:
        del scale  # a Y-Net takes its input as it is (input_scale: None)
        fps, rate = self.card.fps, source.rate
        for block in blocks(source, self.cfg):
            clip = None
            if visual is not None and self.visual != "none":
                frame = int(round(block.lo / rate * fps))  # blocks start on whole seconds: an exact frame
                count = math.ceil(block.x.shape[1] / rate * fps) + 1
                clip = np.asarray(visual[frame : frame + count])
                clip = clip if len(clip) else np.asarray(visual[-1:])
            yield block, self._separate_span(block.x, rate, clip)[None]

    def _separate_span(self, x: np.ndarray, rate: int, visual: np.ndarray | None) -> np.ndarray:
        """(channels, samples) and the frames from its first sample on -> (channels, samples), in chunks."""
        model_rate, clip = self.stft.sample_rate, self.card.clip_samples
        per_frame = model_rate / self.card.fps
        mono = audio.resample(x.mean(0, keepdims=True), rate, model_rate)[0]
        starts = [0]  # video frames
        while int(round(starts[-1] * per_frame)) + clip < len(mono):
            starts.append(starts[-1] + self.cfg.chunk_hop_frames)
        if visual is not None:
            pad = starts[-1] + self.card.clip_frames - len(visual)
            visual = np.concatenate([visual, np.repeat(visual[-1:], pad, 0)]) if pad > 0 else visual
        offsets = [int(round(f * per_frame)) for f in starts]  # at the model's rate
        padded = np.zeros(offsets[-1] + clip, np.float32)
        padded[: len(mono)] = mono[: len(padded)]
        # the same chunks at the input's rate
        bands = self.band_map(rate)
        spans = [int(round(o * rate / model_rate)) for o in offsets]
        length = int(round(clip * rate / model_rate))
        wide = np.zeros((x.shape[0], max(spans[-1] + length, x.shape[1])), np.float32)
        wide[:, : x.shape[1]] = x[:, : wide.shape[1]]
        total = np.zeros_like(wide)
        weight = np.zeros(wide.shape[1], np.float32)
        b = min(self.cfg.batch_size, len(starts))  # a 4-s clip runs alone, not in a padded batch
        for first in range(0, len(starts), b):
            group = range(first, min(len(starts), first + b))
            masks = self._masks(
                [self._network_input(padded[offsets[k] : offsets[k] + clip], visual, starts[k]) for k in group], b
            )
            for mask, k in zip(masks, group):
                a, e = spans[k], spans[k] + length
                spec = audio.stft(wide[:, a:e], bands.target, frames_first=True)
                full = bands(mask, spec.shape[-2], offset=a / rate - offsets[k] / model_rate)
                w = _chunk_weights(spans, length, k)
                total[:, a:e] += audio.istft(full[None] * spec, bands.target, length, frames_first=True) * w
                weight[a:e] += w
        return (total / np.maximum(weight, 1e-12))[:, : x.shape[1]]


def _chunk_weights(spans: list[int], length: int, k: int) -> np.ndarray:
    """Fade in over the audio shared with chunk k-1, out over that shared with chunk k+1."""
    w = np.ones(length, np.float32)
    if k > 0:
        shared = spans[k - 1] + length - spans[k]
        w[:shared] = ramp(shared)
    if k + 1 < len(spans):
        shared = spans[k] + length - spans[k + 1]
        w[length - shared :] *= ramp(shared)[::-1]
    return w
