"""Separation of any length, in constant memory, at the input's own sample rate and channel count.

The input is processed in blocks (``block_seconds``, read from disk one at a time) with ``context_seconds``
of extra audio either side; neighbouring blocks are cross-faded over their shared context, so no seam is
audible and no tail is dropped. Inside a block the audio is resampled to the model's rate, cut into
spectrogram patches that overlap by ``patch_overlap`` frames, run through the model in batches, and the
patch estimates are cross-faded (raised-cosine weights that sum to one) back into one spectrogram.

Magnitude models (unet, cunet) estimate from the mono down-mix, as they were trained; their mask is
applied to every channel's STFT, so the estimate keeps the mixture's phase and stereo image. A C-U-Net
computes all its targets in the same batches. Above the model's Nyquist frequency (4096 Hz for C-U-Net)
a magnitude model has no estimate; the output keeps the mixture's band below it only.

    python -m cunet.evaluation.separate runs/cunet-complex-cnn song.wav other/*.flac -o separated
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from .. import audio
from ..datasets.musdb import SOURCES
from ..errors import InputError
from .runs import load_run
from .visual import load_visual
from .wiener import wiener

PATCH_FRAMES = 128


@dataclasses.dataclass(frozen=True)
class SeparateConfig:
    batch_size: int = 16
    patch_overlap: int = 32  # spectrogram frames two neighbouring patches share and cross-fade over
    block_seconds: float = 20.0  # audio separated at a time: memory does not grow with the track
    context_seconds: float = 1.0  # read on either side of a block, then cross-faded with the neighbour
    template: str = "{name}/{target}.wav"  # output names; {name} is the input's stem; .wav or .flac
    subtype: str | None = None  # default: FLOAT for wav, PCM_24 for flac
    wiener: int = 0  # magnitude models: iterations of the multichannel Wiener filter on the masked STFTs
    chunk_hop_frames: int = 75  # Y-Net: video frames between 4-s chunk starts (25 frames are cross-faded)

    def __post_init__(self):
        if not 0 <= self.patch_overlap <= PATCH_FRAMES // 2:
            raise ValueError(f"patch_overlap must be within 0..{PATCH_FRAMES // 2}, got {self.patch_overlap}")
        if self.block_seconds <= 2 * self.context_seconds or self.context_seconds < 0:
            raise ValueError("block_seconds must exceed twice context_seconds, which must be >= 0")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.wiener < 0:
            raise ValueError(f"wiener iterations must be >= 0, got {self.wiener}")
        if not 1 <= self.chunk_hop_frames < 100:  # 100 frames are 65536 samples, one more than a chunk
            raise ValueError(f"chunk_hop_frames must be within 1..99, got {self.chunk_hop_frames}")


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine fade-in of ``n`` steps; with its mirror image as fade-out the two sum to one."""
    return np.sin(np.pi * (np.arange(n) + 0.5) / (2 * n)) ** 2 if n else np.zeros(0)


def patch_weights(overlap: int) -> np.ndarray:
    w = np.ones(PATCH_FRAMES, np.float32)
    w[:overlap] = _ramp(overlap)
    w[PATCH_FRAMES - overlap:] = _ramp(overlap)[::-1]
    return w


def patch_starts(frames: int, overlap: int) -> list[int]:
    hop = PATCH_FRAMES - overlap
    return list(range(0, max(frames - PATCH_FRAMES, 0) + hop, hop)) if frames > PATCH_FRAMES else [0]


class Separator:
    """A trained magnitude model (unet or cunet) and what it takes to apply it to audio of any length."""

    def __init__(self, model, model_cfg, targets: tuple[str, ...], cfg: SeparateConfig = SeparateConfig()):
        if model_cfg.model == "ynet":
            raise InputError(None, "a Y-Net separates with YNetSeparator (load_separator chooses)")
        self.model, self.model_cfg, self.targets, self.cfg = model, model_cfg, targets, cfg
        self.stft = audio.CUNET_STFT

    @classmethod
    def from_run(cls, run, cfg: SeparateConfig = SeparateConfig()) -> "Separator":
        targets = SOURCES
        if run.model_cfg.model == "unet":
            if run.train is None:
                raise InputError(run.folder / "config.json", "is missing: a U-Net's target is recorded there")
            targets = (run.train.target,)
        return cls(run.model, run.model_cfg, targets, cfg)

    @classmethod
    def load(cls, path: str | Path, cfg: SeparateConfig = SeparateConfig()) -> "Separator":
        """From a run folder or its ``model.keras`` (``model_config.json`` and ``config.json`` beside it)."""
        return cls.from_run(load_run(path), cfg)

    # -- one block at the model's rate ---------------------------------------------------------------
    def _run_model(self, patches: np.ndarray) -> np.ndarray:
        """(P, 512, 128, 1) magnitudes -> (targets, P, 512, 128) estimates, in fixed-size batches."""
        n, b = len(patches), self.cfg.batch_size
        conditions = np.eye(len(SOURCES), dtype=np.float32)[[SOURCES.index(t) for t in self.targets]]
        shape = self.model_cfg.condition_shape
        jobs = [(t, i) for t in range(len(self.targets)) for i in range(n)]
        out = np.empty((len(self.targets), n, *patches.shape[1:3]), np.float32)
        for first in range(0, len(jobs), b):
            chunk = jobs[first: first + b]
            x = np.zeros((b, *patches.shape[1:]), np.float32)  # a fixed batch shape: traced once
            x[: len(chunk)] = patches[[i for _, i in chunk]]
            if self.model_cfg.model == "unet":
                y = self.model.predict_on_batch(x)
            else:
                z = np.zeros((b, *shape), np.float32)
                z[: len(chunk)] = conditions[[t for t, _ in chunk]].reshape(-1, *shape)
                y = self.model.predict_on_batch([x, z])
            y = np.asarray(y)[..., 0]
            for k, (t, i) in enumerate(chunk):
                out[t, i] = y[k]
        return out

    def _masks(self, mono_spec: np.ndarray, scale: float) -> np.ndarray:
        """(513, T) mono mixture STFT -> (targets, 513, T) ratio masks in [0, 1]."""
        mag = np.abs(mono_spec[:-1]) / np.float32(scale)  # the Nyquist bin is not modelled
        frames = mag.shape[1]
        starts = patch_starts(frames, self.cfg.patch_overlap)
        padded = np.zeros((mag.shape[0], starts[-1] + PATCH_FRAMES), np.float32)
        padded[:, :frames] = mag
        patches = np.stack([padded[:, s: s + PATCH_FRAMES] for s in starts])[..., None]
        estimates = self._run_model(patches)
        w = patch_weights(self.cfg.patch_overlap)
        total = np.zeros((len(self.targets), *padded.shape), np.float32)
        weight = np.zeros(padded.shape[1], np.float32)
        for k, s in enumerate(starts):
            total[:, :, s: s + PATCH_FRAMES] += estimates[:, k] * w
            weight[s: s + PATCH_FRAMES] += w
        estimate = total[:, :, :frames] / weight[:frames]
        with np.errstate(divide="ignore", invalid="ignore"):
            mask = np.where(mag > 0, estimate / mag, 0.0).clip(0, 1)
        return np.concatenate([mask, mask[:, -1:]], axis=1)  # Nyquist: as its neighbour, as the original

    def _separate_block(self, x: np.ndarray, rate: int, scale: float) -> np.ndarray:
        """(channels, n) at ``rate`` -> (targets, channels, n) at ``rate``."""
        inner = audio.resample(x, rate, self.stft.sample_rate)
        spec = audio.stft(inner, self.stft)  # (channels, 513, T)
        masks = self._masks(audio.stft(inner.mean(0), self.stft), scale)
        est = masks[:, None] * spec[None]
        if self.cfg.wiener:
            est = wiener(est, spec, self.cfg.wiener, complete=len(self.targets) == len(SOURCES))
        est = audio.istft(est, self.stft, length=inner.shape[1])
        out = audio.resample(est.reshape(-1, est.shape[-1]), self.stft.sample_rate, rate)
        out = out.reshape(len(self.targets), x.shape[0], -1)
        if out.shape[-1] < x.shape[1]:
            out = np.pad(out, ((0, 0), (0, 0), (0, x.shape[1] - out.shape[-1])))
        return out[..., : x.shape[1]]

    # -- whole inputs ----------------------------------------------------------------------------------
    def _scale(self, read: Callable[[int, int], np.ndarray], n: int, rate: int) -> float:
        """The track's largest STFT magnitude of the mono mix at the model's rate (the training scale)."""
        block = int(self.cfg.block_seconds * rate)
        peak = 0.0
        for start in range(0, n, block):
            x = read(start, min(n, start + block))
            inner = audio.resample(x.mean(0, keepdims=True), rate, self.stft.sample_rate)
            peak = max(peak, float(np.abs(audio.stft(inner[0], self.stft)).max(initial=0.0)))
        return peak or 1.0

    def stream(self, read: Callable[[int, int], np.ndarray], n: int, rate: int,
               emit: Callable[[np.ndarray], None], progress: Callable[[int], None] | None = None) -> None:
        """Separate ``n`` samples that ``read(start, stop)`` gives as (channels, samples) at ``rate``;
        ``emit`` receives consecutive (targets, channels, samples) pieces, ``n`` samples in all."""
        if n <= 0:
            raise ValueError("nothing to separate: the input has no samples")
        scale = self._scale(read, n, rate)
        stream_blocks(lambda x, lo: self._separate_block(x, rate, scale), read, n, rate, emit, self.cfg, progress)

    def separate(self, x: np.ndarray, rate: int) -> dict[str, np.ndarray]:
        """(channels, samples) or (samples,) -> {target: same shape}, in memory."""
        x = np.asarray(x, np.float32)
        flat = x.ndim == 1
        x = x[None] if flat else x
        pieces = []
        self.stream(lambda a, b: x[:, a:b], x.shape[1], rate, pieces.append)
        out = np.concatenate(pieces, axis=-1) if pieces else np.zeros((len(self.targets), *x.shape), np.float32)
        return {t: (out[i, 0] if flat else out[i]) for i, t in enumerate(self.targets)}


def stream_blocks(separate_block: Callable[[np.ndarray, int], np.ndarray], read: Callable[[int, int], np.ndarray],
                  n: int, rate: int, emit: Callable[[np.ndarray], None], cfg: SeparateConfig,
                  progress: Callable[[int], None] | None = None) -> None:
    """Blocks of ``cfg.block_seconds`` with ``cfg.context_seconds`` either side, each separated alone by
    ``separate_block(x, first sample)`` -> (targets, channels, samples); neighbours are cross-faded over
    the context both covered, and ``emit`` gets the result in order, ``n`` samples in all."""
    block, context = int(cfg.block_seconds * rate), int(cfg.context_seconds * rate)
    tail = None  # the previous block's output over the 2 * context samples both blocks cover
    for start in range(0, n, block):
        stop = min(n, start + block)
        lo, hi = max(0, start - context), min(n, stop + context)
        out = separate_block(read(lo, hi), lo)  # covers [lo, hi), where the tail began
        if tail is not None:
            w = _ramp(tail.shape[-1]).astype(np.float32)
            out[..., : tail.shape[-1]] = tail * (1 - w) + out[..., : tail.shape[-1]] * w
        keep = hi - lo if stop == n else stop - context - lo
        emit(out[..., :keep])
        tail = out[..., keep:]
        if progress:
            progress(stop - start)


def find_inputs(specs: list[str]) -> list[Path]:
    """Files, folders (every .wav/.flac inside, recursively) and glob patterns, in a stable order."""
    found: list[Path] = []
    for spec in specs:
        if any(c in spec for c in "*?["):
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True))
            if not matches:
                raise InputError(spec, "the pattern matches no file")
            paths = [p for p in matches if p.is_file()]
        elif Path(spec).is_dir():
            paths = sorted(p for p in Path(spec).rglob("*") if p.suffix.lower() in audio.AUDIO_EXTENSIONS)
            if not paths:
                raise InputError(spec, "folder holds no .wav or .flac file")
        elif Path(spec).is_file():
            paths = [Path(spec)]
        else:
            raise InputError(spec, "no such file or folder")
        found += [p for p in paths if p not in found]
    return found


def load_separator(path: str | Path, cfg: SeparateConfig = SeparateConfig()):
    """The separator for a trained run folder or model file: :class:`Separator` (unet, cunet) or a Y-Net's."""
    return separator_for(load_run(path), cfg)


def separator_for(run, cfg: SeparateConfig = SeparateConfig()):
    if run.model_cfg.model == "ynet":
        from .ynet_separator import YNetSeparator

        return YNetSeparator.from_run(run, cfg)
    return Separator.from_run(run, cfg)


def visual_for(separator, path: Path):
    """A Y-Net's frames or landmarks for ``path`` (None for other models and audio-only Y-Nets)."""
    kind = getattr(separator, "visual", "none")
    return (None, None) if kind == "none" else load_visual(path, kind)


def separate_file(separator, path: Path, out: Path, progress: bool = False) -> list[Path]:
    """Separate one file into ``out`` (names from the template); every output appears whole or not at all."""
    from tqdm import tqdm

    meta = audio.info(path)  # checks the header, and that a wav is not truncated
    names = [out / separator.cfg.template.format(name=path.stem, target=t) for t in separator.targets]
    subtype = separator.cfg.subtype
    visual, source = visual_for(separator, path)  # a Y-Net's frames (memory-mapped) or landmarks
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(audio.writer(
            p, meta.samplerate, meta.channels,
            subtype or ("PCM_24" if p.suffix.lower() == ".flac" else "FLOAT"))) for p in names]
        bar = stack.enter_context(tqdm(total=meta.frames, unit="sample", unit_scale=True, desc=path.name,
                                       disable=not progress, leave=False))

        def emit(piece: np.ndarray) -> None:
            for write, target_piece in zip(writers, piece):
                write(target_piece)

        read = lambda a, b: audio.read_span(path, a, b)  # noqa: E731
        if isinstance(separator, Separator):
            separator.stream(read, meta.frames, meta.samplerate, emit, progress=bar.update)
        else:
            separator.stream(read, meta.frames, meta.samplerate, emit, visual, source, progress=bar.update)
    return names


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m cunet.evaluation.separate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a run folder, or its model.keras")
    p.add_argument("inputs", nargs="+", help="audio files, folders or glob patterns (.wav, .flac)")
    p.add_argument("-o", "--out", default="separated", help="output folder (default: separated)")
    p.add_argument("--template", help=f"output names (default: {SeparateConfig.template}); .wav or .flac")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--patch-overlap", type=int, help="frames neighbouring patches share (0..64)")
    p.add_argument("--block-seconds", type=float)
    p.add_argument("--wiener", type=int, metavar="N", help="unet/cunet: N iterations of the multichannel Wiener "
                                                          "post-filter (default 0: the network's masks as they are)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    values = {"template": args.template, "batch_size": args.batch_size, "patch_overlap": args.patch_overlap,
              "block_seconds": args.block_seconds, "wiener": args.wiener}
    try:
        cfg = dataclasses.replace(SeparateConfig(), **{k: v for k, v in values.items() if v is not None})
        inputs = find_inputs(args.inputs)
        separator = load_separator(args.model, cfg)
        for path in inputs:  # every input is checked before anything is written
            meta = audio.info(path)
            if not isinstance(separator, Separator):
                separator.check(meta.frames, meta.samplerate, *visual_for(separator, path))
        for path in inputs:
            written = separate_file(separator, path, Path(args.out), progress=not args.quiet)
            if not args.quiet:
                print(f"{path}: " + ", ".join(str(w) for w in written))
    except (InputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
