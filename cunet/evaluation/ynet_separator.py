"""Y-Net separation of any length: the target singer's voice from a mixture and the singer's video.

The model sees 4-second chunks (65535 samples at 16384 Hz with their 100 video frames at 25 fps).
Chunks start every ``chunk_hop_frames`` video frames (3 s by default), so neighbours share a second of audio,
which is cross-faded (raised-cosine weights summing to one); the last chunk is padded (silence, and the
last video frame repeated), so no tail is dropped. The network's complex mask (logits, used as they are,
as the original does at inference) is repeated to the full 512 bins and applied to every channel's STFT:
the estimate keeps the input's rate, channel count and length. Above 8192 Hz there is no estimate.

The network input is the mono mix divided by the number of slots the model was trained with (3 with
``remix``, else 2), the level of its training mixtures.
"""

from __future__ import annotations

import math

import numpy as np

from .. import audio
from ..datasets.acappella import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, mouth_crops
from ..errors import InputError
from .separate import SeparateConfig, _ramp

CLIP_SAMPLES, CLIP_FRAMES = 65535, 100


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

    def separate(self, x: np.ndarray, rate: int, visual: np.ndarray | None = None,
                 visual_name: str = "the visual input") -> dict[str, np.ndarray]:
        """(channels, samples) or (samples,) at ``rate`` -> {"vocals": same shape}. ``visual``: uint8
        (T, 128, 96, 3) frames or (T, 68, 2) landmarks at 25 fps, covering the audio."""
        x = np.asarray(x, np.float32)
        flat = x.ndim == 1
        x = x[None] if flat else x
        if x.shape[-1] == 0:
            raise ValueError("nothing to separate: the input has no samples")
        inner = audio.resample(x, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else x
        n = inner.shape[1]
        hop = self.cfg.chunk_hop_frames
        starts = [0]
        while int(round(starts[-1] * SAMPLES_PER_FRAME)) + CLIP_SAMPLES < n:
            starts.append(starts[-1] + hop)
        if self.visual != "none":
            if visual is None:
                raise InputError(None, f"this Y-Net ({self.visual}) needs the singer's "
                                       f"{'frames' if self.visual == 'video' else 'landmarks'}")
            needed = math.ceil(n / SAMPLES_PER_FRAME)
            if len(visual) < needed - 1:  # one frame of rounding is forgiven
                raise InputError(visual_name, f"frames missing: the audio lasts {n / SAMPLE_RATE:.2f} s, "
                                              f"{needed} frames at {FPS} fps, but there are {len(visual)} "
                                              f"({len(visual) / FPS:.2f} s)")
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
                a, b = offsets[k], offsets[k] + CLIP_SAMPLES
                w = self._chunk_weights(offsets, k)
                est = audio.istft(mask[None] * audio.stft(padded[:, a:b], self.stft), self.stft, CLIP_SAMPLES)
                total[:, a:b] += est * w
                weight[a:b] += w
        out = total[:, :n] / weight[:n]
        out = audio.resample(out, SAMPLE_RATE, rate) if rate != SAMPLE_RATE else out
        out = np.pad(out, ((0, 0), (0, max(0, x.shape[1] - out.shape[1]))))[:, : x.shape[1]]
        return {"vocals": out[0] if flat else out}

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
