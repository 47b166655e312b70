"""Y-Net separation of any length: the target singer's voice from a mixture and the singer's video.

Long inputs are separated in blocks, as the magnitude models' are (separate.py), so memory does not
grow with the input. Within a block the model sees 4-second chunks (65535 samples at 16384 Hz with their
100 video frames at 25 fps). Chunks start every ``chunk_hop_frames`` video frames (3 s by default), so
neighbours share a second of audio, which is cross-faded (raised-cosine weights summing to one); the last
chunk is padded (silence, and the last video frame repeated), so no tail is dropped. The network's
complex mask (logits, used as they are, as the original does at inference) is repeated to the full 512
bins and applied to every channel's STFT: the estimate keeps the input's rate, channel count and length.
Above 8192 Hz there is no estimate.

The network input is the mono mix divided by the number of slots the model was trained with (3 with
``remix``, else 2), the level of its training mixtures.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import audio
from ..datasets.acappella import CLIP_FRAMES, CLIP_SAMPLES, FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, mouth_crops
from ..errors import InputError
from .separate import SeparateConfig, _ramp, stream_blocks


class YNetSeparator:
    """A trained Y-Net; :meth:`separate` takes audio and the singer's frames or landmarks."""

    targets = ("vocals",)

    def __init__(self, model, model_cfg, slots: int = 3, cfg: SeparateConfig = SeparateConfig()):
        if model_cfg.model != "ynet":
            raise InputError(None, f"a {model_cfg.model} model is not a Y-Net")
        self.model, self.model_cfg, self.slots, self.cfg = model, model_cfg, slots, cfg
        self.stft = audio.YNET_STFT

    @classmethod
    def from_run(cls, run, cfg: SeparateConfig = SeparateConfig()) -> "YNetSeparator":
        slots = 3 if run.train is None or run.train.remix else 2
        return cls(run.model, run.model_cfg, slots, cfg)

    @property
    def visual(self) -> str:
        return self.model_cfg.visual

    def _network_input(self, mono: np.ndarray, visual: np.ndarray | None, frame: int):
        spec = audio.real_imag(audio.stft(mono / self.slots, self.stft)[::2])
        if self.visual == "none":
            return spec, None
        clip = visual[frame: frame + CLIP_FRAMES]
        return spec, (mouth_crops(clip) if self.visual == "video" else clip.astype(np.float32))

    def _masks(self, inputs: list, b: int) -> np.ndarray:
        """Network inputs of up to ``b`` chunks -> (chunks, 512, 256) complex masks."""
        n = len(inputs)
        spec = np.zeros((b, 256, 256, 2), np.float32)  # one batch shape per input: traced once
        spec[:n] = [s for s, _ in inputs]
        if self.visual == "none":
            logits = self.model.predict_on_batch(spec)
        else:
            vis = np.zeros((b, *inputs[0][1].shape), np.float32)
            vis[:n] = [v for _, v in inputs]
            logits = self.model.predict_on_batch([spec, vis])
        logits = np.asarray(logits, np.float32)[:n]
        return np.repeat(logits[..., 0] + 1j * logits[..., 1], 2, axis=1)  # every second bin -> all 512

    def check(self, n: int, rate: int, visual: np.ndarray | None, visual_name: str = "the visual input") -> None:
        """That ``n`` samples at ``rate`` can be separated with ``visual``: its frames must cover them."""
        if n <= 0:
            raise ValueError("nothing to separate: the input has no samples")
        if self.visual == "none":
            return
        if visual is None:
            raise InputError(None, f"this Y-Net ({self.visual}) needs the singer's "
                                   f"{'frames' if self.visual == 'video' else 'landmarks'}")
        needed = math.ceil(n / rate * FPS)
        if len(visual) < needed - 1:  # one frame of rounding is forgiven
            raise InputError(visual_name, f"frames missing: the audio lasts {n / rate:.2f} s, {needed} frames "
                                          f"at {FPS} fps, but there are {len(visual)} ({len(visual) / FPS:.2f} s)")

    def stream(self, read: Callable[[int, int], np.ndarray], n: int, rate: int,
               emit: Callable[[np.ndarray], None], visual: np.ndarray | None = None,
               visual_name: str = "the visual input", progress: Callable[[int], None] | None = None) -> None:
        """Separate ``n`` samples that ``read(start, stop)`` gives as (channels, samples) at ``rate``, in
        blocks as the magnitude separator does (memory does not grow with the input; memory-mapped frames
        are read a block at a time). ``visual``: uint8 (T, 128, 96, 3) frames or (T, 68, 2) landmarks at
        25 fps from the audio's first sample. ``emit`` gets (1, channels, samples) pieces in order."""
        self.check(n, rate, visual, visual_name)

        def block(x: np.ndarray, first: int) -> np.ndarray:
            if visual is None or self.visual == "none":
                return self._separate_span(x, rate, None)[None]
            frame = int(round(first / rate * FPS))  # blocks start on whole seconds: an exact frame
            count = math.ceil(x.shape[1] / rate * FPS) + 1
            clip = np.asarray(visual[frame: frame + count])
            return self._separate_span(x, rate, clip if len(clip) else np.asarray(visual[-1:]))[None]

        stream_blocks(block, read, n, rate, emit, self.cfg, progress)

    def separate(self, x: np.ndarray, rate: int, visual: np.ndarray | None = None,
                 visual_name: str = "the visual input") -> dict[str, np.ndarray]:
        """(channels, samples) or (samples,) at ``rate`` -> {"vocals": same shape}, in memory."""
        x = np.asarray(x, np.float32)
        flat = x.ndim == 1
        x = x[None] if flat else x
        pieces = []
        self.stream(lambda a, b: x[:, a:b], x.shape[1], rate, pieces.append, visual, visual_name)
        out = np.concatenate(pieces, axis=-1)[0]
        return {"vocals": out[0] if flat else out}

    def _separate_span(self, x: np.ndarray, rate: int, visual: np.ndarray | None) -> np.ndarray:
        """(channels, samples) and the frames from its first sample on -> (channels, samples), in chunks."""
        inner = audio.resample(x, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else x
        n = inner.shape[1]
        hop = self.cfg.chunk_hop_frames
        starts = [0]
        while int(round(starts[-1] * SAMPLES_PER_FRAME)) + CLIP_SAMPLES < n:
            starts.append(starts[-1] + hop)
        if visual is not None:
            pad = starts[-1] + CLIP_FRAMES - len(visual)
            visual = np.concatenate([visual, np.repeat(visual[-1:], pad, 0)]) if pad > 0 else visual
        offsets = [int(round(f * SAMPLES_PER_FRAME)) for f in starts]
        padded = np.zeros((x.shape[0], offsets[-1] + CLIP_SAMPLES), np.float32)
        padded[:, :n] = inner
        mono = padded.mean(0)
        total = np.zeros_like(padded)
        weight = np.zeros(padded.shape[1], np.float32)
        b = min(self.cfg.batch_size, len(starts))  # a 4-s clip runs alone, not in a padded batch
        for first in range(0, len(starts), b):
            group = range(first, min(len(starts), first + b))
            masks = self._masks([self._network_input(mono[offsets[k]: offsets[k] + CLIP_SAMPLES], visual,
                                                     starts[k]) for k in group], b)
            for mask, k in zip(masks, group):
                a, e = offsets[k], offsets[k] + CLIP_SAMPLES
                w = self._chunk_weights(offsets, k)
                est = audio.istft(mask[None] * audio.stft(padded[:, a:e], self.stft), self.stft, CLIP_SAMPLES)
                total[:, a:e] += est * w
                weight[a:e] += w
        out = total[:, :n] / weight[:n]
        out = audio.resample(out, SAMPLE_RATE, rate) if rate != SAMPLE_RATE else out
        return np.pad(out, ((0, 0), (0, max(0, x.shape[1] - out.shape[1]))))[:, : x.shape[1]]

    @staticmethod
    def _chunk_weights(offsets: list[int], k: int) -> np.ndarray:
        """Fade in over the audio shared with chunk k-1, out over that shared with chunk k+1."""
        w = np.ones(CLIP_SAMPLES, np.float32)
        if k > 0:
            shared = offsets[k - 1] + CLIP_SAMPLES - offsets[k]
            w[:shared] = _ramp(shared)
        if k + 1 < len(offsets):
            shared = offsets[k] + CLIP_SAMPLES - offsets[k + 1]
            w[CLIP_SAMPLES - shared:] *= _ramp(shared)[::-1]
        return w
